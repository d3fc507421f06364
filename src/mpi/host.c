/* host.c - the fork server of a rank (level_ext.h, mirror side): a
 * single-threaded process the rank forks at its first multi-host worker,
 * before MPI_Init, so that every child it forks later (one per worker the
 * job creates) comes from a process without threads (SPEC §3), although the
 * rank itself runs MPI's threads by then.
 *
 * Protocol over a SOCK_SEQPACKET socketpair, one request at a time:
 *   rank -> server: a mirror spec, with the control segment's fd (SCM_RIGHTS)
 *   server -> rank: host_reply {status, pid, device base, message}
 * The server polls the socket and the pidfd of the child it forked; when the
 * child exits it reaps it and publishes the status in the control segment
 * (strata__mirror_exited), which wakes the rank. EOF on the socket (the rank
 * is gone): it kills its child and exits; PDEATHSIG does the same if the
 * rank is killed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpi/mpi_int.h"
#include "platform/trace_rec.h"

#define HOST_REPLY_MS 30000 /* fork and map: bounded by the startup deadline in practice */

typedef struct host_reply {
  int32_t status;
  pid_t pid;
  uint64_t devbase;
  char msg[256];
} host_reply;

static int host_fd = -1;   /* the rank's end */

/* ---- the server ------------------------------------------------------------------- */
static ssize_t recv_spec(int fd, void *buf, size_t cap, int *ctl_fd) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {buf, cap};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                      .msg_controllen = sizeof(cbuf)};
  ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
  *ctl_fd = c && c->cmsg_type == SCM_RIGHTS ? *(int *)(void *)CMSG_DATA(c) : -1;
  return n;
}

static void reap(strata_node **h) {
  int ws = 0;
  pid_t pid = strata__mirror_pid(*h);
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  strata__mirror_exited(*h, ws);
  *h = NULL;
}

static void serve_spec(int fd, strata_node **h, void *spec) {
  int ctl = -1;
  ssize_t n = recv_spec(fd, spec, STRATA__MIRROR_SPEC_MAX, &ctl);
  if (n <= 0) { /* the rank is gone: so is our child */
    if (*h) kill(strata__mirror_pid(*h), SIGKILL), reap(h);
    _exit(0);
  }
  host_reply r = {0, 0, 0, ""};
  if (*h) kill(strata__mirror_pid(*h), SIGKILL), reap(h); /* an earlier worker's, left over */
  r.status = strata__mirror_host(spec, (size_t)n, ctl, h, &r.pid, &r.devbase);
  if (r.status) snprintf(r.msg, sizeof(r.msg), "%s", strata_last_error());
  if (ctl >= 0) close(ctl);
  if (send(fd, &r, sizeof(r), MSG_NOSIGNAL) < 0) _exit(1);
}

static void server_main(int fd) __attribute__((noreturn));
static void server_main(int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  strata__trace_set_process("fork server");
  static unsigned char spec[STRATA__MIRROR_SPEC_MAX];
  strata_node *h = NULL;
  for (;;) {
    struct pollfd p[2] = {{fd, POLLIN, 0}, {h ? strata__mirror_pidfd(h) : -1, POLLIN, 0}};
    int timeout = h && p[1].fd < 0 ? 10 : -1; /* without pidfds: look every 10 ms */
    if (poll(p, 2, timeout) < 0 && errno != EINTR) _exit(1);
    if (p[0].revents) serve_spec(fd, &h, spec);
    int ws;
    if (h && (p[1].revents || (p[1].fd < 0 && waitpid(strata__mirror_pid(h), &ws, WNOHANG) > 0)))
      p[1].fd < 0 ? (strata__mirror_exited(h, ws), h = NULL) : reap(&h);
  }
}

/* ---- the rank's side ----------------------------------------------------------------- */
int strata__host_start(void) {
  if (host_fd >= 0) return 0;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return strata__fail(STRATA_ENOMEM, "cannot create the fork server's socket: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) close(sv[0]), server_main(sv[1]);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return strata__fail(STRATA_ENOMEM, "cannot fork the fork server: %s", strerror(errno));
  }
  host_fd = sv[0];
  return 0;
}

static int send_spec(const void *spec, size_t len, int ctl_fd) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof(cbuf));
  struct iovec iov = {(void *)(uintptr_t)spec, len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                      .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &ctl_fd, sizeof(int));
  return sendmsg(host_fd, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int await_reply(host_reply *r) {
  struct pollfd p = {host_fd, POLLIN, 0};
  if (poll(&p, 1, HOST_REPLY_MS) != 1 || recv(host_fd, r, sizeof(*r), 0) != (ssize_t)sizeof(*r))
    return -1;
  return 0;
}

int strata__host_mirror(const strata_node *n, uint32_t c, strata_node **out) {
  static unsigned char spec[STRATA__MIRROR_SPEC_MAX];
  size_t len = strata__mirror_spec(n, c, spec, sizeof(spec));
  strata_node *m = NULL;
  int ctl_fd = -1, rc = strata__host_start();
  if (rc == 0) rc = strata__mirror_open(spec, len, &m, &ctl_fd);
  if (rc) return rc;
  host_reply r;
  if (send_spec(spec, len, ctl_fd) != 0 || await_reply(&r) != 0)
    r = (host_reply){STRATA_ENDPOINT_FAILURE, 0, 0, "the fork server did not answer"};
  close(ctl_fd);
  if (r.status) {
    strata__mirror_close(m);
    return strata__fail(r.status, "hosting worker child %u on this rank: %s", c, r.msg);
  }
  strata__mirror_adopt(m, r.pid, r.devbase);
  *out = m;
  return 0;
}

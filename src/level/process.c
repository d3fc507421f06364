/* process.c - a worker's children as processes: fork them all (before any
 * thread exists in the worker), watch for deaths with pidfds on a watcher
 * thread that wakes the event loop, reap, tell a stopped child from a slow
 * one, and tear the tree down: SHUTDOWN, a grace period, then SIGKILL.
 *
 * DESIGN: the watcher thread only polls the children's pidfds (and an
 * eventfd that stops it); on a death it sets n->deaths (release) and signals
 * the header's parent_ev, so the loop reaps within one wake-up instead of a
 * periodic poll. It never touches a child's state: the loop reaps.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/level_int.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#define TEARDOWN_GRACE_MS 2000
#define WATCH_FALLBACK_MS 10 /* only without pidfd support */
#define WATCH_STOPS_MS 100   /* a stopped child is named within this (pidfds see deaths only) */

/* ---- names ------------------------------------------------------------------ */
const char *strata__child_name(const strata_node *n, uint32_t c, char *buf, size_t len) {
  const strata__child *ch = &n->child[c];
  char where[96];
  if (ch->remote)
    n->rops->where(n->rctx, c, where, sizeof(where));
  else
    snprintf(where, sizeof(where), "pid %d", (int)ch->pid);
  snprintf(buf, len, "%s%s%s (%s)", n->path, n->path[0] ? " / " : "", ch->path, where);
  return buf;
}

void strata__child_died_msg(const strata_node *n, uint32_t c, const char *during, char *buf,
                            size_t len) {
  char name[160];
  int st = n->child[c].wstatus;
  strata__child_name(n, c, name, sizeof(name));
  if (n->child[c].remote)
    snprintf(buf, len, "%s %s during %s", name, n->child[c].remote_msg, during);
  else if (WIFEXITED(st) && WEXITSTATUS(st) == STRATA_EXIT_SUBTREE_LOST) /* it said why */
    snprintf(buf, len, "%s lost part of its subtree: %s", name, strata__mbox(n, c)->errmsg);
  else if (WIFSIGNALED(st))
    snprintf(buf, len, "%s died (killed by signal %d) during %s", name, WTERMSIG(st), during);
  else
    snprintf(buf, len, "%s exited with status %d during %s", name, WEXITSTATUS(st), during);
}

/* 1 if the child is stopped (SIGSTOP, a debugger): state 'T' or 't'. */
int strata__child_stopped(const strata__child *ch) {
  char path[64], buf[256];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)ch->pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t k = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[k] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  return p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
}

/* ---- fork ------------------------------------------------------------------- */
int strata__spawn_children(strata_node *n) {
  fflush(NULL); /* no buffered output duplicated into the children */
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (n->rops && ch->kind == STRATA_CHILD_WORKER) { /* served by the transport */
      ch->remote = ch->alive = 1;
      continue;
    }
    if (n->mirror && c != n->mirror_child) continue; /* hosted elsewhere */
    pid_t pid = fork();
    if (pid == 0) strata__child_main(n, c);
    if (pid < 0)
      return strata__fail(STRATA_ENOMEM, "cannot fork child %u: %s; lower the number of "
                          "chips, subs and workers", c, strerror(errno));
    n->child[c].pid = pid;
    n->child[c].alive = 1;
    n->child[c].pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  }
  return 0;
}

void strata__child_kill(strata_node *n, uint32_t c) {
  if (n->child[c].remote)
    n->rops->kill(n->rctx, c);
  else if (n->child[c].pid > 0)
    kill(n->child[c].pid, SIGKILL);
}

/* ---- the watcher thread -------------------------------------------------------- */
static void report_death(strata_node *n) {
  store_release(&n->deaths, 1); /* pairs with xchg in strata__reap */
  strata__event_signal(&n->hdr->parent_ev);
}

/* A local child stopped (SIGSTOP, SIGTSTP, a debugger) or continued since
 * the last look: said at once, naming it (its task still fails at the task
 * deadline if it stays stopped). waitid(WSTOPPED | WCONTINUED) takes only
 * those notifications, never an exit: the loop's waitpid still reaps. The
 * child's name and pid are fixed before this thread starts. */
static void watch_stops(strata_node *n, const struct pollfd *fds) {
  for (uint32_t c = 0; c < n->nchildren; c++) {
    siginfo_t si;
    pid_t pid = n->child[c].pid;
    if (fds[c].fd < 0 || pid <= 0) continue; /* gone, or remote */
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WSTOPPED | WCONTINUED | WNOHANG) != 0 || si.si_pid != pid)
      continue;
    char name[160];
    strata__child_name(n, c, name, sizeof(name));
    if (si.si_code == CLD_STOPPED)
      strata__warn("%s was stopped (signal %d, %s); a task on it fails at the task deadline "
                   "(STRATA_NODE_TASK_TIMEOUT_MS, %u ms) unless it is continued (kill -CONT %d)",
                   name, si.si_status, strsignal(si.si_status), n->cfg.task_timeout_ms, (int)pid);
    else if (si.si_code == CLD_CONTINUED)
      strata__warn("%s was continued", name);
  }
}

static void *watch_main(void *arg) {
  strata_node *n = arg;
  struct pollfd fds[STRATA_NODE_MAX_CHILDREN + 1];
  int fallback = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    fds[c] = (struct pollfd){n->child[c].pidfd, POLLIN, 0};
    fallback |= n->child[c].pidfd < 0 && !n->child[c].remote; /* remote: the transport reports */
  }
  fds[n->nchildren] = (struct pollfd){n->watch_efd, POLLIN, 0};
  while (!load_acquire(&n->watcher_stop)) { /* pairs with watcher_stop's release */
    int r = poll(fds, n->nchildren + 1, fallback ? WATCH_FALLBACK_MS : WATCH_STOPS_MS);
    watch_stops(n, fds);
    for (uint32_t c = 0; r > 0 && c < n->nchildren; c++)
      if (fds[c].fd >= 0 && fds[c].revents) {
        fds[c].fd = -1; /* stays readable until reaped: report once */
        WRITE_ONCE(n->child[c].died_ns, strata__now_ns()); /* published by report_death */
        report_death(n);
      }
    if (fallback && r == 0) report_death(n); /* no pidfds: let the loop check */
  }
  return NULL;
}

int strata__watcher_start(strata_node *n) {
  n->watch_efd = eventfd(0, EFD_CLOEXEC);
  if (n->watch_efd < 0)
    return strata__fail(STRATA_ENOMEM, "cannot create the watcher's eventfd: %s",
                        strerror(errno));
  int rc = strata__thread_start(&n->watcher, watch_main, n, "strata-watch");
  n->watcher_started = rc == 0;
  return rc;
}

void strata__watcher_stop(strata_node *n) {
  if (n->watcher_started) {
    uint64_t one = 1;
    store_release(&n->watcher_stop, 1); /* pairs with watch_main's acquire */
    if (write(n->watch_efd, &one, sizeof(one)) < 0) { /* poll wakes either way below */
    }
    pthread_join(n->watcher, NULL);
    n->watcher_started = 0;
  }
  if (n->watch_efd > 0) close(n->watch_efd);
  n->watch_efd = -1;
}

/* ---- reaping ---------------------------------------------------------------------- */
int strata__reap(strata_node *n) {
  int died = 0;
  xchg(&n->deaths, 0); /* pairs with report_death's release */
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (!ch->alive) continue;
    if (ch->remote ? !load_acquire(&ch->remote_gone) /* pairs with strata__port_lost */
                   : waitpid(ch->pid, &ch->wstatus, WNOHANG) != ch->pid)
      continue;
    ch->alive = 0;
    died++;
    for (uint32_t e = 0; e < STRATA_MAX_EXT; e++) /* abort its peers' waits first */
      if (n->ext[e].ops && n->ext[e].ops->child_lost) n->ext[e].ops->child_lost(n->ext[e].ctx, c);
  }
  return died;
}

static uint32_t alive_count(strata_node *n) {
  uint32_t k = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) k += n->child[c].alive;
  return k;
}

/* SHUTDOWN to idle children (a worker child closes its own subtree), SIGKILL
 * to children mid-request or mid-init; after the grace period, SIGKILL. */
static void ask_to_stop(strata_node *n) {
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (!ch->alive) continue;
    uint32_t st = strata__read_state(n, c);
    if (ch->busy || st == STRATA_MB_TASK_READY || st == STRATA_MB_CONTROL_REQUEST ||
        (!ch->ready && st != STRATA_MB_INIT_DONE)) {
      ch->killed_for = KILL_TEARDOWN;
      strata__child_kill(n, c);
    } else {
      strata__post_shutdown(n, c);
    }
  }
}

void strata__teardown(strata_node *n) {
  ask_to_stop(n);
  uint64_t deadline = strata__deadline_ms(TEARDOWN_GRACE_MS);
  while (strata__reap(n) >= 0 && alive_count(n) > 0 && strata__now_ns() < deadline) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    strata__event_wait(&n->hdr->parent_ev, seen, strata__now_ns() + 10 * STRATA_NS_PER_MS);
  }
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (ch->alive && ch->remote) {
      strata__child_kill(n, c); /* its transport ends it; nothing to reap here */
    } else if (ch->alive) {
      kill(ch->pid, SIGKILL);
      while (waitpid(ch->pid, &ch->wstatus, 0) < 0 && errno == EINTR) {
      }
    }
    ch->alive = 0;
  }
  strata__watcher_stop(n);
  for (uint32_t c = 0; c < n->nchildren; c++)
    if (n->child[c].pidfd >= 0) close(n->child[c].pidfd), n->child[c].pidfd = -1;
}

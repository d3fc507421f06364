/* relay.c - every rank's side of its own child (mpi_int.h): requests from
 * rank 0 posted into the mirror's mailbox, replies, INIT_DONE (with this
 * host's name) and the child's death sent back; on ranks >= 1 the whole life
 * of the rank (strata__serve_rank: it never returns to the program).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm_ext.h"
#include "mpi/mpi_int.h"
#include "platform/trace_rec.h"
#include "strata/mpi.h"

static const strata__ext_ops *ext_by_name(const char *name) {
  const strata__ext_ops *comm = strata__comm_ext_ops();
  return name[0] && strcmp(name, comm->name) == 0 ? comm : NULL;
}

static void send_lost(strata__mpi *st, int wstatus, const char *msg) {
  wire_msg *w = wire_head(st->scratch, WIRE_LOST, (uint32_t)st->rank);
  w->h.wstatus = wstatus;
  snprintf(w->m.errmsg, sizeof(w->m.errmsg), "%s", msg);
  strata__mpi_send(st, 0, w);
}

/* ---- this rank's clock against rank 0's, for traces: PING_ROUNDS round
 * trips after GO; the one with the least delay gives the offset ---------- */
#define PING_ROUNDS 8

static void ping(strata__mpi *st) {
  wire_msg *p = wire_head(st->scratch, WIRE_PING, 0);
  p->m.arg[0] = strata__now_ns();
  strata__mpi_send(st, 0, p);
}

static void pong(strata__mpi *st, const wire_msg *w) {
  uint64_t t1 = w->m.arg[0], t2 = w->m.arg[1], t3 = strata__now_ns();
  int64_t off = (int64_t)t2 - (int64_t)(t1 / 2 + t3 / 2);
  if (!st->pings || t3 - t1 < st->best_rtt) st->best_rtt = t3 - t1, st->best_off = off;
  if (++st->pings < PING_ROUNDS) return ping(st);
  strata__trace_set_clock_offset(st->best_off);
}

void strata__relay_on(strata__mpi *st, wire_msg *w) {
  if (w->h.type == WIRE_GO && st->rank != 0) return ping(st);
  if (w->h.type == WIRE_PONG) return pong(st, w);
  if (w->h.type == WIRE_KILL) {
    strata__mirror_kill(st->mirror);
    return;
  }
  if (w->h.type == WIRE_BYE) st->bye_seen = 1;
  if (w->h.type != WIRE_REQ) return; /* HB, GO, BYE */
  if (st->relay_done) return send_lost(st, 0, "is gone");
  strata__mbox_msg *m = &w->m; /* the receive buffer: ours until it is posted again */
  const strata__ext_ops *ext = ext_by_name(m->ext);
  if (m->ext[0] && !ext) {
    wire_msg *r = wire_head(st->scratch, WIRE_REP, (uint32_t)st->rank);
    r->m.state = STRATA_MB_CONTROL_DONE;
    r->m.error_code = STRATA_ENOSYS;
    snprintf(r->m.errmsg, sizeof(r->m.errmsg), "extension '%s' is unknown on rank %d", m->ext,
             st->rank);
    return strata__mpi_send(st, 0, r);
  }
  if (ext) strata__gw_control(st, m); /* hierarchical domains: the gateway's part first */
  strata__mirror_post(st->mirror, m, ext);
  st->relay_busy = m->state != STRATA_MB_SHUTDOWN;
}

/* ---- fault injection (tests): STRATA_FAULT_MPI=<kill|stop|l3stop|chip>:<rank>:<ms>
 * on `rank`, <ms> after its first task arrived: SIGKILL or SIGSTOP this
 * rank's process, SIGSTOP the L3 worker it hosts, or SIGKILL its subtree's
 * chip 1. */
static pid_t subtree[STRATA__MSG_BLOB_MAX / sizeof(pid_t)];
static uint32_t nsubtree;

static void fault_check(strata__mpi *st) {
  static uint64_t armed;
  static int done;
  char what[8] = "";
  unsigned rank = 0, ms = 0;
  const char *s = getenv("STRATA_FAULT_MPI");
  if (done || !s || sscanf(s, "%7[a-z0-9]:%u:%u", what, &rank, &ms) != 3 || rank != (unsigned)st->rank)
    return;
  if (!armed) armed = st->relay_busy ? strata__now_ns() : 0;
  if (!armed || strata__now_ns() - armed < (uint64_t)ms * STRATA_NS_PER_MS) return;
  done = 1;
  if (strcmp(what, "kill") == 0) raise(SIGKILL);
  if (strcmp(what, "stop") == 0) raise(SIGSTOP);
  if (strcmp(what, "l3stop") == 0) kill(strata__mirror_pid(st->mirror), SIGSTOP);
  if (strcmp(what, "chip") == 0 && nsubtree > 1) kill(subtree[1], SIGKILL);
}

/* INIT_DONE goes with this host's name and the digest of this rank's
 * callables (rank 0 checks that every id means the same function). */
static void init_reply(strata__mpi *st, strata__mbox_msg *m) {
  nsubtree = m->blob_len / sizeof(pid_t);
  memcpy(subtree, m->blob, m->blob_len);
  m->blob_len = 0;
  m->task_id = st->digest;
  /* rank 0 refuses another format (fault hook, tests: claim another one) */
  m->arg[3] = strata__env_u64("STRATA_FAULT_MSG_VERSION", STRATA__MSG_VERSION, 0, UINT32_MAX, 0);
  snprintf(m->errmsg, sizeof(m->errmsg), "%s", st->host);
}

/* The rank's own process sees a stop of the child it hosts: rank 0 learns it
 * at once (a warning there) and names it at the task deadline. */
#define STOP_CHECK_NS (100ull * STRATA_NS_PER_MS)
static void stop_check(strata__mpi *st) {
  uint64_t now = strata__now_ns();
  if (now - st->stop_checked < STOP_CHECK_NS) return;
  st->stop_checked = now;
  int stopped = strata__mirror_stopped(st->mirror);
  if (stopped == st->child_stopped) return;
  st->child_stopped = stopped;
  wire_msg *w = wire_head(st->scratch, WIRE_STOPPED, (uint32_t)st->rank);
  w->m.arg[0] = (uint64_t)stopped;
  snprintf(w->m.errmsg, sizeof(w->m.errmsg), stopped ? "its L3 worker (pid %d) was stopped "
           "(SIGSTOP?); a request to it fails at the task deadline unless it is continued"
           : "its L3 worker (pid %d) was continued", (int)strata__mirror_pid(st->mirror));
  strata__mpi_send(st, 0, w);
}

void strata__relay_poll(strata__mpi *st) {
  if (st->relay_done || !st->mirror) return;
  stop_check(st);
  fault_check(st);
  wire_msg *w = st->scratch;
  if (strata__mirror_poll(st->mirror, &w->m)) {
    w->h = (wire_hdr){.type = WIRE_REP, .child = (uint32_t)st->rank};
    if (w->m.state == STRATA_MB_INIT_DONE) init_reply(st, &w->m);
    if (w->m.state == STRATA_MB_CONTROL_DONE) strata__gw_replied(st, &w->m);
    st->relay_busy = 0;
    strata__mpi_send(st, 0, w);
    return;
  }
  int wstatus = 0;
  char msg[320];
  if (strata__mirror_dead(st->mirror, &wstatus, msg, sizeof(msg))) {
    st->relay_done = 1;
    send_lost(st, wstatus, msg);
  }
}

/* A rank >= 1: host child `rank` of n and serve rank 0 until it closes. */
int strata__serve_rank(strata_node *n, strata__mpi *st) {
  int rc = strata__host_mirror(n, (uint32_t)st->rank, &st->mirror); /* by the fork server */
  st->digest = strata__registry_digest(n);
  char why[320];
  snprintf(why, sizeof(why), "%s", rc ? strata_last_error() : "");
  if (strata__mpi_start(st) != 0) {
    fprintf(stderr, "strata: rank %d: %s\n", st->rank, strata_last_error());
    strata__mirror_close(st->mirror);
    strata__mpi_session.failed = 1;
    strata__mpi_end_process(1);
  }
  if (rc) {
    st->relay_done = 1;
    send_lost(st, 1 << 8, why);
  }
  strata__mpi_loop(st);
  strata__mirror_close(st->mirror);
  st->mirror = NULL;
  int failed = st->failed;
  strata__mpi_finish(st);
  strata__free(st);
  if (!strata__mpi_session.serve_return || failed) strata__mpi_end_process(failed ? 1 : 0);
  return strata__fail(STRATA_MPI_SERVED, "rank %d served its L3 node for rank 0, which closed "
                      "the worker: close it here too and go on as rank 0 does",
                      strata_mpi_rank());
}

/* transport.c - the MPI thread of a rank (mpi_int.h): MPI start-up with
 * MPI_ERRORS_RETURN, the control traffic (one posted receive, sends queued
 * until they complete), heartbeats and the peer deadline, and the loop that
 * polls the bridge, the relay and the gateways, parking briefly when idle.
 * The only code that calls MPI outside gateway.c.
 */
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "mpi/mpi_int.h"
#include "strata/trace.h"

#define HB_EVERY_NS (250ull * STRATA_NS_PER_MS)
#define YIELD_AFTER_WORK_NS (200ull * 1000) /* poll, yielding the CPU, after activity */
#define PARK_IDLE_NS (1ull * STRATA_NS_PER_MS) /* MPI has no fd to sleep on: poll this often */

void strata__mpi_errstr(int rc, char *buf, size_t len) {
  char s[MPI_MAX_ERROR_STRING];
  int n = 0;
  if (MPI_Error_string(rc, s, &n) != MPI_SUCCESS) n = snprintf(s, sizeof(s), "MPI error %d", rc);
  snprintf(buf, len, "%.*s", n, s);
}

strata__mpi_proc strata__mpi_session;
#define SESSION strata__mpi_session

static void post_recv(strata__mpi *st) {
  int rc = MPI_Irecv(SESSION.rbuf, (int)sizeof(wire_msg), MPI_BYTE,
                     st->rank == 0 ? MPI_ANY_SOURCE : 0, STRATA_MPI_TAG_CTRL, st->comm, &SESSION.rreq);
  if (rc != MPI_SUCCESS)
    SESSION.rreq = MPI_REQUEST_NULL, strata__mpi_peer_lost(st, 0, "MPI_Irecv failed");
}

/* At exit, after the last worker (its threads are joined by then). A
 * worker still open (the program returned or exit()ed without closing it,
 * e.g. after a failed run) has its MPI thread stopped first: finalizing MPI
 * under a running thread crashed the process. */
static void finalize_at_exit(void) {
  if (SESSION.live) strata__bridge_abandon(SESSION.live);
  if (!SESSION.up || SESSION.failed) return;
  if (SESSION.rreq != MPI_REQUEST_NULL) MPI_Cancel(&SESSION.rreq), MPI_Request_free(&SESSION.rreq);
  MPI_Comm_free(&SESSION.comm);
  MPI_Finalize();
  SESSION.up = 0;
}

/* MPI once per process (SERIALIZED: each worker's MPI thread in turn). */
static int session_start(strata__mpi *st) {
  if (SESSION.up && SESSION.failed)
    return strata__fail(STRATA_ENDPOINT_FAILURE, "rank %d: MPI failed earlier in this process",
                        st->rank);
  if (SESSION.up) return 0;
  int provided = 0, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
  if (rc != MPI_SUCCESS)
    return strata__fail(STRATA_ENDPOINT_FAILURE, "rank %d: MPI_Init_thread failed (%d); is "
                        "this run under mpirun with Open MPI installed on every host?", st->rank, rc);
  SESSION.up = 1;
  /* fault hook (tests): a library that provides less */
  provided = (int)strata__env_u64("STRATA_FAULT_MPI_PROVIDED", (uint64_t)provided, 0, 3, 0);
  if (provided < MPI_THREAD_SERIALIZED) {
    SESSION.failed = 1; /* no MPI_Finalize for a session that never served */
    return strata__fail(STRATA_ENOSYS, "rank %d: the MPI library provides thread level %d, "
                        "strata needs MPI_THREAD_SERIALIZED (%d): each worker's MPI thread calls "
                        "MPI in turn; use an Open MPI built with thread support (Debian's is)",
                        st->rank, provided, MPI_THREAD_SERIALIZED);
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &SESSION.comm);
  MPI_Comm_set_errhandler(SESSION.comm, MPI_ERRORS_RETURN); /* every failure comes back to us */
  int r = 0, s = 0;
  MPI_Comm_rank(SESSION.comm, &r);
  MPI_Comm_size(SESSION.comm, &s);
  if (r != st->rank || s != st->size)
    return strata__fail(STRATA_EINVAL, "MPI says rank %d of %d, the environment %d of %d: "
                        "start the program with mpirun", r, s, st->rank, st->size);
  SESSION.rbuf = strata__calloc(1, sizeof(wire_msg));
  if (!SESSION.rbuf) return strata__fail(STRATA_ENOMEM, "out of memory for MPI buffers");
  st->comm = SESSION.comm;
  post_recv(st);
  atexit(finalize_at_exit);
  return 0;
}

int strata__mpi_start(strata__mpi *st) {
  int rc = session_start(st);
  if (rc) return rc;
  st->comm = SESSION.comm;
  st->gen = ++SESSION.gen;
  st->scratch = strata__calloc(1, sizeof(wire_msg));
  if (!st->scratch) return strata__fail(STRATA_ENOMEM, "out of memory for MPI buffers");
  uint64_t now = strata__now_ns();
  for (int p = 0; p < st->size; p++) st->heard[p] = now;
  return 0;
}

/* ---- sends ------------------------------------------------------------------------ */
void strata__mpi_send(strata__mpi *st, int peer, const wire_msg *w) {
  if (st->lost[peer]) return;
  size_t len = wire_len(w);
  sendq *q = strata__calloc(1, sizeof(*q) + len);
  if (!q) return strata__mpi_peer_lost(st, peer, "out of memory sending to it");
  memcpy(q->buf, w, len);
  ((wire_hdr *)(void *)q->buf)->gen = st->gen;
  q->len = len;
  q->peer = peer;
  int rc = MPI_Isend(q->buf, (int)len, MPI_BYTE, peer, STRATA_MPI_TAG_CTRL, st->comm, &q->req);
  if (rc != MPI_SUCCESS) {
    char e[160];
    strata__mpi_errstr(rc, e, sizeof(e));
    strata__free(q);
    return strata__mpi_peer_lost(st, peer, e);
  }
  q->next = st->sends;
  st->sends = q;
}

static void progress_sends(strata__mpi *st) {
  for (sendq **pp = &st->sends; *pp;) {
    sendq *q = *pp;
    int done = 0, rc = MPI_Test(&q->req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) strata__mpi_peer_lost(st, q->peer, "a send to it failed");
    if (!done && rc == MPI_SUCCESS && !st->lost[q->peer]) {
      pp = &q->next;
      continue;
    }
    if (!done) MPI_Cancel(&q->req), MPI_Request_free(&q->req);
    *pp = q->next;
    strata__free(q);
  }
}

static int sends_pending(const strata__mpi *st) { return st->sends != NULL; }

/* ---- liveness ------------------------------------------------------------------------ */
void strata__mpi_peer_lost(strata__mpi *st, int peer, const char *why) {
  if (peer < 0 || peer >= st->size || st->lost[peer] || peer == st->rank) return;
  st->lost[peer] = 1;
  st->failed = SESSION.failed = 1;
  strata__gw_peer_lost(st, peer);
  if (st->root) strata__bridge_peer_lost(st, peer, why);
  else if (peer == 0) { /* rank 0 is gone: nobody will ask this rank for anything */
    fprintf(stderr, "strata: rank %d: lost rank 0 (%s); ending this rank's subtree\n", st->rank,
            why);
    if (st->mirror) strata__mirror_kill(st->mirror);
  }
}

static void heartbeat(strata__mpi *st, uint64_t now) {
  if (now - st->last_hb >= HB_EVERY_NS) {
    wire_msg w = {.h = {.type = WIRE_HB}};
    for (int p = 0; p < st->size; p++)
      if (p != st->rank && (st->rank == 0 || p == 0)) strata__mpi_send(st, p, &w);
    st->last_hb = now;
  }
  for (int p = 0; p < st->size; p++) {
    if (p == st->rank || st->lost[p] || (st->rank != 0 && p != 0)) continue;
    if (now > st->heard[p] + st->peer_timeout_ns) { /* heard may be later than now */
      char why[160];
      snprintf(why, sizeof(why), "sent nothing for %llu ms: stopped (SIGSTOP?), killed, or "
               "its host is unreachable", (unsigned long long)(st->peer_timeout_ns / STRATA_NS_PER_MS));
      strata__mpi_peer_lost(st, p, why);
    }
  }
}

/* ---- receives ----------------------------------------------------------------------------- */
/* The next message for this lifetime: 1 and its source, or 0. A message of
 * a later lifetime stays held for it; one of an earlier lifetime is dropped. */
static int next_msg(strata__mpi *st, int *from) {
  while (SESSION.held || SESSION.rreq != MPI_REQUEST_NULL) {
    int done = SESSION.held;
    MPI_Status s;
    s.MPI_SOURCE = SESSION.held_from;
    if (!done && MPI_Test(&SESSION.rreq, &done, &s) != MPI_SUCCESS) {
      SESSION.rreq = MPI_REQUEST_NULL;
      strata__mpi_peer_lost(st, st->rank == 0 ? 1 : 0, "receiving failed");
      return 0;
    }
    if (!done) return 0;
    SESSION.held = 0;
    int32_t age = (int32_t)(SESSION.rbuf->h.gen - st->gen);
    if (age > 0) return SESSION.held = 1, SESSION.held_from = s.MPI_SOURCE, 0;
    if (age == 0 && s.MPI_SOURCE >= 0 && s.MPI_SOURCE < st->size) return *from = s.MPI_SOURCE, 1;
    post_recv(st); /* an earlier lifetime's: dropped */
  }
  return 0;
}

static int progress_recv(strata__mpi *st) {
  int moved = 0, from = 0;
  while (next_msg(st, &from)) {
    st->heard[from] = strata__now_ns();
    if (SESSION.rbuf->h.type != WIRE_HB) moved = 1;
    if (st->rank == 0) strata__bridge_on(st, from, SESSION.rbuf);
    if (from == 0) strata__relay_on(st, SESSION.rbuf);
    post_recv(st);
  }
  return moved;
}

/* ---- the loop -------------------------------------------------------------------------------- */
/* Rank 0: closed, every child gone, BYE sent to every rank; others: the
 * child is gone and rank 0 said BYE (or rank 0 is lost). */
static int finished(strata__mpi *st) {
  if (st->root) return st->bye_sent && st->relay_done;
  return (st->relay_done && st->bye_seen) || st->lost[0];
}

/* The process exits with the worker open: kill every subtree, give the
 * kills ABANDON_FLUSH_MS to leave, then stop. 1 when the loop must end. */
#define ABANDON_FLUSH_MS 500
static int abandoned(strata__mpi *st, uint64_t *until) {
  if (!load_acquire(&st->abandon)) return 0; /* pairs with strata__bridge_abandon */
  if (!*until) {
    *until = strata__deadline_ms(ABANDON_FLUSH_MS);
    if (st->root) strata__bridge_end_job(st);
    if (st->mirror) strata__mirror_kill(st->mirror);
  }
  return !sends_pending(st) || strata__now_ns() >= *until;
}

void strata__mpi_loop(strata__mpi *st) {
  strata__event *ev = st->mirror ? strata__mirror_event(st->mirror) : &st->wake;
  uint64_t abandon_until = 0;
  while ((!finished(st) || sends_pending(st)) && !abandoned(st, &abandon_until)) {
    uint32_t seen = strata__event_read(ev);
    uint64_t now = strata__now_ns();
    int moved = progress_recv(st);
    progress_sends(st);
    if (st->root) strata__bridge_poll(st);
    strata__relay_poll(st);
    moved |= strata__gw_poll(st);
    heartbeat(st, now);
    if (moved) st->last_activity = now;
    if (finished(st) && sends_pending(st) && st->failed) break; /* sends to the lost never end */
    /* An exchange in flight, or just after work: poll, but let the chips run
     * (2 CPUs are shared by every rank's threads and chips). */
    if (strata__gw_active(st) || sends_pending(st) || now - st->last_activity < YIELD_AFTER_WORK_NS) {
      sched_yield();
      continue;
    }
    if (!strata__gw_park(st, now + PARK_IDLE_NS)) /* a leader's request wakes it */
      strata__event_wait_spin(ev, seen, now + PARK_IDLE_NS, STRATA_SPIN_NONE);
  }
}

/* The end of this worker's lifetime; MPI itself stays up (see finalize_at_exit). */
void strata__mpi_finish(strata__mpi *st) {
  strata__gw_close_all(st);
  strata__free(st->scratch);
  st->scratch = NULL;
}

/* A rank that leaves the process now (not serve-return mode). */
void strata__mpi_end_process(int status) {
  strata_trace_stop(); /* this rank's trace file (exit handlers do not run) */
  finalize_at_exit();
  fflush(NULL);
  _exit(status);
}

/* bridge.c - rank 0's side of the remote children (mpi_int.h): the engine's
 * remote-child ops (level_ext.h), requests taken from the remote mailboxes
 * and sent to their ranks, replies and losses written back, the readiness
 * gather (GO once every rank's subtree is INIT_DONE).
 */
#include <stdio.h>
#include <string.h>

#include "mpi/mpi_int.h"

static char hosts[STRATA_MPI_MAX_RANKS][64]; /* written before the INIT_DONE it came with */

static void *thread_main(void *arg) {
  strata__mpi *st = arg;
  int rc = strata__mpi_start(st);
  if (rc == 0) {
    strata__mpi_loop(st);
  } else {
    st->failed = strata__mpi_session.failed = 1;
    for (int p = 0; p < st->size; p++) strata__bridge_peer_lost(st, p, strata_last_error());
    while (!load_acquire(&st->stop) && !load_acquire(&st->abandon)) /* pairs with stop(), abandon() */
      strata__sleep_ms(1);
  }
  strata__mirror_close(st->mirror); /* after stop: the engine posts nothing more */
  strata__mpi_finish(st);
  return NULL;
}

/* In strata_node_init after the engine's own forks: rank 0's child (forked
 * by the fork server), then the MPI thread. */
static int start(strata_node *n, void *ctx) {
  strata__mpi *st = ctx;
  (void)n;
  int rc = strata__host_mirror(st->root, 0, &st->mirror); /* forked by the fork server */
  st->digest = strata__registry_digest(st->root);
  if (rc == 0) rc = strata__thread_start(&st->thread, thread_main, st, "strata-mpi");
  st->thread_started = rc == 0;
  if (rc == 0) strata__mpi_session.live = st;
  return rc;
}

static void posted(void *ctx, uint32_t c) {
  strata__mpi *st = ctx;
  (void)c;
  if (st->mirror) strata__event_signal(strata__mirror_event(st->mirror));
}

static void kill_child(void *ctx, uint32_t c) {
  strata__mpi *st = ctx;
  fetch_or(&st->kill_mask, 1ull << (c % STRATA_MPI_MAX_RANKS)); /* pairs with take_kill */
  posted(ctx, c);
}

static void stop(strata_node *n, void *ctx) {
  strata__mpi *st = ctx;
  (void)n;
  store_release(&st->stop, 1); /* pairs with finished(); seen within one park */
  if (st->thread_started) {
    pthread_join(st->thread, NULL);
    strata__mpi_session.live = NULL;
  } else {
    strata__mirror_close(st->mirror);
  }
  strata__free(st);
  strata__mpi_worker_closed();
}

static const char *where(void *ctx, uint32_t c, char *buf, size_t len) {
  (void)ctx;
  snprintf(buf, len, "rank %u%s%s", c, hosts[c % STRATA_MPI_MAX_RANKS][0] ? " on " : "",
           hosts[c % STRATA_MPI_MAX_RANKS]);
  return buf;
}

static int stopped(void *ctx, uint32_t c) {
  strata__mpi *st = ctx;
  return READ_ONCE(st->stopped[c % STRATA_MPI_MAX_RANKS]);
}

const strata__remote_ops strata__bridge_ops = {"mpi", start, posted, kill_child, stop, where,
                                               stopped};

/* ---- the MPI thread's side ------------------------------------------------------- */
static int take_kill(strata__mpi *st, int c) {
  uint64_t bit = 1ull << (c % STRATA_MPI_MAX_RANKS);
  return (fetch_and(&st->kill_mask, ~bit) & bit) != 0; /* pairs with kill_child's fetch_or */
}

static void send_go(strata__mpi *st) {
  for (int p = 0; p < st->size; p++)
    if (!st->ready[p]) return;
  wire_msg w = {.h = {.type = WIRE_GO}};
  for (int p = 0; p < st->size; p++) strata__mpi_send(st, p, &w);
  st->go_sent = 1;
}

void strata__bridge_poll(strata__mpi *st) {
  wire_msg *w = st->scratch;
  for (int c = 0; c < st->size; c++) {
    if (st->gone[c]) continue;
    if (take_kill(st, c)) {
      wire_msg k = {.h = {.type = WIRE_KILL, .child = (uint32_t)c}};
      strata__mpi_send(st, c, &k);
    }
    int r = strata__port_take(st->root, (uint32_t)c, &w->m);
    if (r > 0) {
      w->h = (wire_hdr){.type = WIRE_REQ, .child = (uint32_t)c};
      strata__mpi_send(st, c, w);
    } else if (r < 0) { /* cannot travel: answered here */
      w->m.state = STRATA_MB_CONTROL_DONE;
      w->m.error_code = STRATA_EINVAL;
      strata__port_reply(st->root, (uint32_t)c, &w->m);
    }
  }
  if (!st->go_sent) send_go(st);
  if (!st->bye_sent && load_acquire(&st->stop) && strata__bridge_done(st)) { /* pairs with stop() */
    wire_msg bye = {.h = {.type = WIRE_BYE}};
    for (int p = 1; p < st->size; p++) strata__mpi_send(st, p, &bye);
    st->bye_sent = 1;
  }
}

/* A lost rank, or a process lost in a rank's subtree, ends the job (SPEC
 * §6): the failure is recorded first (first error wins), then every rank's
 * subtree is killed, so the run ends now instead of when the other ranks'
 * tasks would have drained. */
void strata__bridge_end_job(strata__mpi *st) {
  wire_msg k = {.h = {.type = WIRE_KILL}};
  for (int c = 0; c < st->size; c++)
    if (!st->gone[c]) k.h.child = (uint32_t)c, strata__mpi_send(st, c, &k);
}

/* Rank `from` registered other callables (or in another order) than rank 0:
 * function ids would name other functions there. Its init fails. */
static void init_refused(strata__mpi *st, int from, const char *why) {
  strata__mbox_msg *m = &wire_head(st->scratch, WIRE_REP, (uint32_t)from)->m;
  m->state = STRATA_MB_INIT_FAILED;
  m->error_code = STRATA_EINVAL;
  snprintf(m->errmsg, sizeof(m->errmsg), "%s", why);
  strata__port_reply(st->root, (uint32_t)from, m);
}

static void callables_differ(strata__mpi *st, int from) {
  char why[256];
  snprintf(why, sizeof(why), "rank %d registered other callables than rank 0 (or in another "
           "order): register the same ones in the same order on every rank before "
           "strata_node_init", from);
  init_refused(st, from, why);
}

/* A rank of another strata build: its messages would be misread. */
static void format_differs(strata__mpi *st, int from, uint64_t theirs) {
  char why[256];
  snprintf(why, sizeof(why), "rank %d speaks message format %llu, rank 0 format %u: run the "
           "same strata build on every host", from, (unsigned long long)theirs,
           STRATA__MSG_VERSION);
  init_refused(st, from, why);
}

void strata__bridge_on(strata__mpi *st, int from, const wire_msg *w) {
  if (w->h.type == WIRE_PING) { /* a rank measures its clock against ours */
    wire_msg *p = wire_head(st->scratch, WIRE_PONG, 0);
    p->m.arg[0] = w->m.arg[0];
    p->m.arg[1] = strata__now_ns();
    return strata__mpi_send(st, from, p);
  }
  if (st->gone[from]) return;
  if (w->h.type == WIRE_STOPPED) { /* said at once; the deadline names it as the culprit */
    WRITE_ONCE(st->stopped[from], (int)w->m.arg[0]);
    return strata__warn("L4 child %d (rank %d on %s): %s", from, from, hosts[from], w->m.errmsg);
  }
  if (w->h.type == WIRE_REP) {
    if (w->m.state == STRATA_MB_INIT_DONE) {
      snprintf(hosts[from], sizeof(hosts[from]), "%s", w->m.errmsg);
      if (w->m.arg[3] != STRATA__MSG_VERSION) return format_differs(st, from, w->m.arg[3]);
      if (w->m.task_id != st->digest) return callables_differ(st, from);
      st->ready[from] = 1;
    }
    strata__port_reply(st->root, (uint32_t)from, &w->m);
    if (w->m.state == STRATA_MB_TASK_DONE && w->m.error_code == STRATA_ENDPOINT_FAILURE)
      strata__bridge_end_job(st); /* a chip (or sub) of that rank died */
  } else if (w->h.type == WIRE_LOST) {
    st->gone[from] = 1;
    strata__port_lost(st->root, (uint32_t)from, w->h.wstatus, w->m.errmsg);
  }
}

void strata__bridge_peer_lost(strata__mpi *st, int peer, const char *why) {
  if (peer < 0 || peer >= st->size || st->gone[peer]) return;
  char msg[320];
  snprintf(msg, sizeof(msg), "lost: rank %d %s", peer, why);
  st->gone[peer] = 1;
  strata__port_lost(st->root, (uint32_t)peer, 9 /* as if killed */, msg);
  strata__bridge_end_job(st);
}

int strata__bridge_done(strata__mpi *st) {
  for (int p = 0; p < st->size; p++)
    if (!st->gone[p]) return 0;
  return 1;
}

void strata__bridge_abandon(strata__mpi *st) {
  store_release(&st->abandon, 1); /* pairs with the MPI loop's and thread_main's acquire */
  strata__event_signal(st->mirror ? strata__mirror_event(st->mirror) : &st->wake);
  pthread_join(st->thread, NULL);
  strata__mpi_session.live = NULL;
  st->failed = strata__mpi_session.failed = 1; /* the other ranks never got BYE: no Finalize */
}

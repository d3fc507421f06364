/* gateway.c - the between-node step of hierarchical collectives (the
 * protocol is in comm/comm_ext.h). For every hierarchical domain with
 * members on this rank's node, the relay creates the gateway segment when
 * the domain's ALLOC_DOMAIN passes on its way to the node (the node unlinks
 * its name once every member mapped it, the relay if the node failed); the MPI thread
 * then serves one exchange per epoch: this node's `in` to every other node,
 * theirs into out[g], all nonblocking and tested in the loop.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "comm/comm_ext.h"
#include "mpi/mpi_int.h"

#define GW_MAX_DOMAINS 16 /* STRATA_COMM_MAX_DOMAINS */

typedef struct gw_slot {
  strata__gw_hdr *g;
  size_t bytes;
  char name[64];          /* linked until the node answered the ALLOC_DOMAIN */
  uint32_t served;        /* last epoch exchanged */
  int busy, nreq;
  MPI_Request req[2 * STRATA__GW_MAX_NODES];
  int peer[2 * STRATA__GW_MAX_NODES]; /* the rank of req[i] */
  uint64_t not_before;    /* fault hook: the next exchange starts no earlier */
} gw_slot;

struct strata__gw_table {
  gw_slot s[GW_MAX_DOMAINS];
};

static struct strata__gw_table *table(strata__mpi *st) {
  if (!st->gw) st->gw = strata__calloc(1, sizeof(*st->gw));
  return st->gw;
}

#define CANCEL_WAIT_MS 1000

/* Take back the buffers of an exchange in flight (its peer gave up on it):
 * 1 once MPI no longer writes into the segment. */
static int cancel(gw_slot *s) {
  if (!s->busy) return 1;
  for (int i = 0; i < s->nreq; i++)
    if (s->req[i] != MPI_REQUEST_NULL) MPI_Cancel(&s->req[i]);
  int done = 0;
  uint64_t deadline = strata__deadline_ms(CANCEL_WAIT_MS);
  while (!done && strata__now_ns() < deadline)
    if (MPI_Testall(s->nreq, s->req, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS) break;
  s->busy = 0;
  return done;
}

static void drop(gw_slot *s) {
  if (s->name[0]) shm_unlink(s->name);
  if (s->g && cancel(s)) munmap(s->g, s->bytes); /* else left mapped: MPI may still write */
  memset(s, 0, sizeof(*s));
}

/* A zeroed segment for h's node, named in h->gw_name. */
static int create(gw_slot *s, strata__hdom_req *h) {
  s->bytes = strata__gw_bytes(h->nnodes, h->cap);
  strata__gw_hdr *g = s->g = strata__shm_map_named("gw", s->bytes, s->name, sizeof(s->name));
  if (!g) return memset(s, 0, sizeof(*s)), -1;
  *g = (strata__gw_hdr){.magic = STRATA__GW_MAGIC, .domain = h->domain, .nnodes = h->nnodes,
                        .node = h->node, .nlocal = h->nlocal, .maxlocal = h->maxlocal,
                        .gsize = h->gsize, .cap = h->cap, .wait_rank = -1};
  memcpy(g->node_rank, h->node_rank, sizeof(g->node_rank));
  memcpy(g->gnode, h->gnode, sizeof(g->gnode));
  memcpy(g->glocal, h->glocal, sizeof(g->glocal));
  snprintf(h->gw_name, sizeof(h->gw_name), "%s", s->name);
  return 0;
}

int strata__gw_control(strata__mpi *st, strata__mbox_msg *m) {
  uint32_t d = (uint32_t)m->arg[0];
  struct strata__gw_table *t = table(st);
  if (!t || d >= GW_MAX_DOMAINS) return 0; /* the node answers with the error */
  if (m->ext_op == STRATA__COMM_RELEASE_DOMAIN) return drop(&t->s[d]), 0;
  strata__hdom_req *h = (strata__hdom_req *)(void *)m->blob;
  if (m->ext_op != STRATA__COMM_ALLOC_DOMAIN || m->blob_len != sizeof(*h) ||
      h->magic != STRATA__HDOM_MAGIC || h->nnodes > STRATA__GW_MAX_NODES)
    return 0;
  drop(&t->s[d]);
  return create(&t->s[d], h); /* on failure gw_name stays empty: the node says why */
}

/* The node took the segment over: it unlinks the name once its last member
 * mapped it (members may still be initialising); on failure it is ours. */
void strata__gw_replied(strata__mpi *st, const strata__mbox_msg *m) {
  for (uint32_t d = 0; st->gw && d < GW_MAX_DOMAINS; d++) {
    gw_slot *s = &st->gw->s[d];
    if (s->g && s->name[0] && m->error_code) drop(s);
    else s->name[0] = '\0';
  }
}

/* ---- the exchange ------------------------------------------------------------- */
static int reached(uint32_t cur, uint32_t target) { return (int32_t)(cur - target) >= 0; }

/* Every member finished reading epoch e - 2 (the last use of e's buffers). */
static int members_done(strata__gw_hdr *g, uint32_t e) {
  for (uint32_t l = 0; e > 2 && l < g->nlocal; l++)
    if (!reached(load_acquire(&g->ack[l].value), e - 2)) return 0; /* pairs with gw_ack */
  return 1;
}

static void fail(strata__mpi *st, gw_slot *s, int peer, const char *why) {
  store_release(&s->g->abort, 1); /* chips' waits fail within one park */
  if (peer >= 0) strata__mpi_peer_lost(st, peer, why);
}

static void start(strata__mpi *st, gw_slot *s, uint32_t d, uint32_t e) {
  strata__gw_hdr *g = s->g;
  size_t len = g->len[e & 1] < g->cap ? g->len[e & 1] : g->cap;
  if (!g->self_in[e & 1]) memcpy(strata__gw_out(g, g->node, e), strata__gw_in(g, e), len);
  s->nreq = 0;
  for (uint32_t n = 0; n < g->nnodes; n++) {
    int peer = (int)g->node_rank[n], tag = STRATA_MPI_TAG_GW + (int)d;
    if (n == g->node) continue;
    if (st->lost[peer]) return fail(st, s, -1, "");
    s->peer[s->nreq] = s->peer[s->nreq + 1] = peer;
    int rc = MPI_Irecv(strata__gw_out(g, n, e), (int)g->cap, MPI_BYTE, peer, tag, st->comm,
                       &s->req[s->nreq++]);
    if (rc == MPI_SUCCESS)
      rc = MPI_Isend(strata__gw_in(g, e), (int)len, MPI_BYTE, peer, tag, st->comm,
                     &s->req[s->nreq++]);
    if (rc != MPI_SUCCESS) return fail(st, s, peer, "a gateway transfer failed");
  }
  s->busy = 1;
}

/* STRATA_FAULT_GW_DELAY_MS (tests): each exchange starts this much later,
 * a slow link without blocking the MPI thread. */
static int delayed(gw_slot *s) {
  static uint64_t delay_ns = UINT64_MAX;
  if (delay_ns == UINT64_MAX) /* only the MPI thread serves gateways */
    delay_ns = strata__env_u64("STRATA_FAULT_GW_DELAY_MS", 0, 0, 3600000, 0) * STRATA_NS_PER_MS;
  uint64_t now = delay_ns ? strata__now_ns() : 0;
  if (delay_ns && !s->not_before) s->not_before = now + delay_ns;
  if (now < s->not_before) return 1;
  s->not_before = 0;
  return 0;
}

/* Test each transfer: a completed one is progress of the node's waiting
 * chips (g->moved); the first pending one names the rank it waits for.
 * 1 when all completed, -1 on an MPI error. */
static int test_each(gw_slot *s) {
  int32_t waiting = -1;
  for (int i = 0; i < s->nreq; i++) {
    int done = 0;
    if (s->req[i] == MPI_REQUEST_NULL) continue;
    if (MPI_Test(&s->req[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
    if (done) fetch_add_relaxed(&s->g->moved, 1);
    else if (waiting < 0) waiting = s->peer[i];
  }
  WRITE_ONCE(s->g->wait_rank, waiting);
  return waiting < 0;
}

static int serve(strata__mpi *st, gw_slot *s, uint32_t d) {
  strata__gw_hdr *g = s->g;
  if (!s->busy) {
    uint32_t e = s->served + 1; /* its buffer set was last read at e - 2 */
    if (READ_ONCE(g->abort) || !reached(load_acquire(&g->req.value), e) || /* pairs with post */
        !members_done(g, e) || delayed(s))
      return 0;
    start(st, s, d, e);
    if (!s->busy) return 1;
  }
  int done = test_each(s);
  if (done < 0) return fail(st, s, -1, ""), 1;
  if (!done) return 0;
  s->busy = 0;
  strata__signal_post(&g->done, ++s->served); /* publishes out[] to the node's chips */
  return 1;
}

int strata__gw_poll(strata__mpi *st) {
  int moved = 0;
  for (uint32_t d = 0; st->gw && d < GW_MAX_DOMAINS; d++)
    if (st->gw->s[d].g) moved |= serve(st, &st->gw->s[d], d);
  return moved;
}

/* 1 while an exchange is in flight: MPI needs polling to move it. */
int strata__gw_active(const strata__mpi *st) {
  for (uint32_t d = 0; st->gw && d < GW_MAX_DOMAINS; d++)
    if (st->gw->s[d].busy) return 1;
  return 0;
}

/* Park until a node's leader requests an exchange (its post wakes us), at
 * most until deadline; 0 if there is no gateway to wait on. The Dekker pair
 * of event.h: waiters += 1; smp_mb; read req (the post: store; smp_mb; read
 * waiters). */
int strata__gw_park(strata__mpi *st, uint64_t deadline) {
  for (uint32_t d = 0; st->gw && d < GW_MAX_DOMAINS; d++) {
    gw_slot *s = &st->gw->s[d];
    if (!s->g) continue;
    strata__signal *req = &s->g->req;
    fetch_add(&req->waiters, 1);
    smp_mb();
    if (load_acquire(&req->value) == s->served) strata__futex_wait(&req->value, s->served, deadline, 1);
    fetch_sub(&req->waiters, 1);
    return 1;
  }
  return 0;
}

/* A peer rank is gone: every domain with a node there fails. */
void strata__gw_peer_lost(strata__mpi *st, int peer) {
  for (uint32_t d = 0; st->gw && d < GW_MAX_DOMAINS; d++) {
    gw_slot *s = &st->gw->s[d];
    for (uint32_t n = 0; s->g && n < s->g->nnodes; n++)
      if ((int)s->g->node_rank[n] == peer) store_release(&s->g->abort, 1);
  }
}

void strata__gw_close_all(strata__mpi *st) {
  for (uint32_t d = 0; st->gw && d < GW_MAX_DOMAINS; d++) drop(&st->gw->s[d]);
  strata__free(st->gw);
  st->gw = NULL;
}

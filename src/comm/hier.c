/* hier.c - the public collectives: on a one-node domain the shm steps of
 * collective.c; on a hierarchical domain (comm_ext.h) the node's shm steps
 * plus one gateway exchange per chunk between nodes. Every node reduces the
 * nodes' partials in node order, so results are bitwise identical on every
 * rank of every host. */
#include <stdlib.h>
#include <string.h>

#include "comm/comm_int.h"

/* The epoch the next exchange will use (its buffer set: strata__gw_in/out). */
static uint32_t next_epoch(const strata_comm *c) { return c->gstep + 1; }

/* Request exchange ++gstep: in[e] is written (by the leader, or by every
 * chip followed by a local barrier). */
static uint32_t gw_post(strata_comm *c, size_t len, int self_in) {
  strata__gw_hdr *g = c->gw;
  uint32_t e = ++c->gstep;
  if (c->rank == 0) {
    g->len[e & 1] = len;
    g->self_in[e & 1] = (uint32_t)self_in;
    strata__signal_post(&g->req, e); /* publishes in[e] and len to the gateway */
  }
  return e;
}

/* The member whose ack of epoch e - 2 is missing, or UINT32_MAX. */
static uint32_t ack_missing(const strata_comm *c, uint32_t e) {
  for (uint32_t l = 0; e > 2 && l < c->gw->nlocal; l++)
    if ((int32_t)(READ_ONCE(c->gw->ack[l].value) - (e - 2)) < 0) return l;
  return UINT32_MAX;
}

/* Exchange e has not completed: the leader has not posted it, a member
 * still reads e - 2, or the gateway waits for another node's rank. */
static void blame_gw(strata_comm *c, uint32_t e, int32_t *rank, int32_t *chip) {
  uint32_t l = ack_missing(c, e);
  if ((int32_t)(READ_ONCE(c->gw->req.value) - e) < 0) return strata__member_name(c, 0, rank, chip);
  if (l != UINT32_MAX) return strata__member_name(c, l, rank, chip);
  *rank = READ_ONCE(c->gw->wait_rank); /* -1 until the gateway waits for someone */
}

static void blame_ack(strata_comm *c, uint32_t e, int32_t *rank, int32_t *chip) {
  uint32_t l = ack_missing(c, e);
  if (l != UINT32_MAX) strata__member_name(c, l, rank, chip);
}

/* Wait until every node's in[e] is in out[e]: each chunk that arrives
 * (gw->moved) is progress of the waiting kernel. */
static int gw_wait(strata_comm *c, uint32_t e, const strata_kernel_ctx *k) {
  const strata__wait_why why = {blame_gw, e, &c->gw->moved};
  int rc = strata__comm_fault_stall(c, e, k);
  if (rc == 0)
    rc = strata__wait_signal(c, &c->gw->done, e, strata__deadline_ms(c->timeout_ms), k, &why);
  if (rc) c->broken = 1;
  return rc;
}

static int gw_round(strata_comm *c, size_t len, int self_in, const strata_kernel_ctx *k) {
  return gw_wait(c, gw_post(c, len, self_in), k);
}

/* This chip finished reading epoch e (release; wakes a member in gw_claim). */
static void gw_ack(strata_comm *c, uint32_t e) { strata__signal_post(&c->gw->ack[c->rank], e); }

/* Before writing in[e]: every member finished reading epoch e - 2 (the same
 * buffer set), however far ahead the others are. */
static int gw_claim(strata_comm *c, uint32_t e, const strata_kernel_ctx *k) {
  int rc = 0;
  for (uint32_t l = 0; rc == 0 && e > 2 && l < c->gw->nlocal; l++)
    rc = strata__wait_signal(c, &c->gw->ack[l], e - 2, strata__deadline_ms(c->timeout_ms), k,
                             &(const strata__wait_why){blame_ack, e, NULL});
  if (rc) c->broken = 1;
  return rc;
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* ---- the hierarchical algorithms ------------------------------------------------- */
static int hier_barrier(strata_comm *c, const strata_kernel_ctx *k) {
  int rc = strata__local_barrier(c, k);
  if (rc == 0) rc = gw_round(c, 0, 0, k);
  if (rc == 0) gw_ack(c, c->gstep);
  return rc;
}

static int hier_broadcast(strata_comm *c, unsigned char *buf, size_t bytes, uint32_t root,
                          const strata_kernel_ctx *k) {
  strata__gw_hdr *g = c->gw;
  uint32_t hr = g->gnode[root];
  int rc = 0;
  for (size_t off = 0; rc == 0 && (off < bytes || off == 0); off += g->cap) {
    size_t len = min_sz(bytes - off, g->cap);
    uint32_t e = next_epoch(c);
    if (g->node == hr) rc = strata__local_broadcast(c, buf + off, len, g->glocal[root], k);
    if (rc == 0 && g->node == hr && c->rank == 0) rc = gw_claim(c, e, k);
    if (rc == 0 && g->node == hr && c->rank == 0) memcpy(strata__gw_in(g, e), buf + off, len);
    if (rc == 0) rc = gw_round(c, g->node == hr ? len : 0, 0, k);
    if (rc == 0 && g->node != hr) memcpy(buf + off, strata__gw_out(g, hr, e), len);
    if (rc == 0) gw_ack(c, e);
    if (bytes == 0) break;
  }
  return rc;
}

/* allgather / alltoall: every chip writes its pieces into `in` at its own
 * offset, a local barrier, one exchange; piece (node g, member l) is at
 * out[g] + l * stride. */
typedef void (*gw_fill_fn)(strata_comm *c, const unsigned char *in, size_t off, size_t len,
                           size_t piece, size_t total, uint32_t e);
typedef void (*gw_take_fn)(strata_comm *c, unsigned char *out, size_t off, size_t len,
                           size_t piece, size_t total, uint32_t e);

static int pieces(strata_comm *c, const void *in, void *out, size_t total, size_t per_member,
                  gw_fill_fn fill, gw_take_fn take, const strata_kernel_ctx *k) {
  strata__gw_hdr *g = c->gw;
  size_t piece = g->cap / ((size_t)g->maxlocal * per_member);
  if (piece == 0 && total)
    return strata__fail(STRATA_EINVAL, "comm: the gateway's %llu B are too small for %u x %zu "
                        "pieces; create the domain with a larger window",
                        (unsigned long long)g->cap, g->maxlocal, per_member);
  int rc = 0;
  for (size_t off = 0; rc == 0 && off < total; off += piece) {
    size_t len = min_sz(total - off, piece);
    uint32_t e = next_epoch(c);
    rc = gw_claim(c, e, k);
    if (rc == 0) fill(c, in, off, len, piece, total, e);
    if (rc == 0) rc = strata__local_barrier(c, k);
    if (rc == 0) rc = gw_round(c, (size_t)g->nlocal * per_member * piece, 0, k);
    if (rc == 0) take(c, out, off, len, piece, total, e);
    if (rc == 0) gw_ack(c, e);
  }
  return rc;
}

static void ag_fill(strata_comm *c, const unsigned char *in, size_t off, size_t len, size_t piece,
                    size_t total, uint32_t e) {
  (void)total;
  memcpy(strata__gw_in(c->gw, e) + c->rank * piece, in + off, len);
}
static void ag_take(strata_comm *c, unsigned char *out, size_t off, size_t len, size_t piece,
                    size_t total, uint32_t e) {
  strata__gw_hdr *g = c->gw;
  for (uint32_t q = 0; q < c->gsize; q++)
    memcpy(out + q * total + off, strata__gw_out(g, g->gnode[q], e) + g->glocal[q] * piece, len);
}

static void a2a_fill(strata_comm *c, const unsigned char *in, size_t off, size_t len, size_t piece,
                     size_t total, uint32_t e) {
  for (uint32_t q = 0; q < c->gsize; q++)
    memcpy(strata__gw_in(c->gw, e) + ((size_t)c->rank * c->gsize + q) * piece,
           in + q * total + off, len);
}
static void a2a_take(strata_comm *c, unsigned char *out, size_t off, size_t len, size_t piece,
                     size_t total, uint32_t e) {
  strata__gw_hdr *g = c->gw;
  for (uint32_t q = 0; q < c->gsize; q++)
    memcpy(out + q * total + off,
           strata__gw_out(g, g->gnode[q], e) + ((size_t)g->glocal[q] * c->gsize + c->grank) * piece,
           len);
}

/* This node's sum, reduced by the leader straight into in[e] (shm steps),
 * then every node's sum reduced in node order by every chip: the same bytes
 * everywhere. Pipelined: chunk i + 1 is summed in the node while chunk i
 * travels between nodes. A node's own sum is read from in[e], which the
 * leader rewrites only at epoch e + 2, after every member's next local step. */
typedef struct ar_chunk {
  unsigned char *out;
  size_t n;
  uint32_t e;
} ar_chunk;

static int ar_finish(strata_comm *c, const ar_chunk *p, strata_dtype dt, strata_red_op op,
                     const strata_kernel_ctx *k) {
  strata__gw_hdr *g = c->gw;
  const void *src[STRATA__GW_MAX_NODES];
  int rc = gw_wait(c, p->e, k);
  for (uint32_t h = 0; h < g->nnodes; h++)
    src[h] = h == g->node ? strata__gw_in(g, p->e) : strata__gw_out(g, h, p->e);
  if (rc == 0) rc = strata__reduce_k(p->out, src, g->nnodes, p->n, dt, op, k);
  if (rc == 0) gw_ack(c, p->e);
  return rc;
}

static int hier_allreduce(strata_comm *c, const unsigned char *in, unsigned char *out, size_t count,
                          strata_dtype dt, strata_red_op op, const strata_kernel_ctx *k) {
  strata__gw_hdr *g = c->gw;
  size_t u = strata_dtype_size(dt), per = g->cap / u;
  ar_chunk prev = {NULL, 0, 0};
  int rc = 0;
  for (size_t off = 0; rc == 0 && off < count; off += per) {
    ar_chunk cur = {out + off * u, min_sz(count - off, per), next_epoch(c)};
    if (c->rank == 0) rc = gw_claim(c, cur.e, k); /* the leader writes in[e] */
    if (rc == 0) rc = strata__local_reduce0(c, in + off * u, strata__gw_in(g, cur.e), cur.n, dt, op, k);
    if (rc == 0) gw_post(c, cur.n * u, 1);
    if (rc == 0 && prev.out) rc = ar_finish(c, &prev, dt, op, k);
    prev = cur;
  }
  if (rc == 0 && prev.out) rc = ar_finish(c, &prev, dt, op, k);
  return rc;
}

/* ---- the public collectives -------------------------------------------------------- */
/* A hierarchical domain (its checks pass: else their error), never the
 * one-node path. */
static int is_hier(strata_comm *c, int *rc) {
  *rc = c && c->gw ? strata__comm_check(c) : 0;
  return c && c->gw;
}

int strata_comm_barrier(strata_comm *c, const strata_kernel_ctx *k) {
  int rc;
  if (!is_hier(c, &rc)) return strata__local_barrier(c, k);
  return rc ? rc : hier_barrier(c, k);
}

int strata_comm_broadcast(strata_comm *c, void *buf, size_t bytes, uint32_t root,
                          const strata_kernel_ctx *k) {
  int rc;
  if (!is_hier(c, &rc)) return strata__local_broadcast(c, buf, bytes, root, k);
  if (rc == 0 && root >= c->gsize)
    rc = strata__fail(STRATA_EINVAL, "broadcast: root %u of %u ranks", root, c->gsize);
  return rc ? rc : hier_broadcast(c, buf, bytes, root, k);
}

int strata_comm_allgather(strata_comm *c, const void *in, void *out, size_t bytes,
                          const strata_kernel_ctx *k) {
  int rc;
  if (!is_hier(c, &rc)) return strata__local_allgather(c, in, out, bytes, k);
  return rc ? rc : pieces(c, in, out, bytes, 1, ag_fill, ag_take, k);
}

int strata_comm_alltoall(strata_comm *c, const void *in, void *out, size_t bytes,
                         const strata_kernel_ctx *k) {
  int rc;
  if (!is_hier(c, &rc)) return strata__local_alltoall(c, in, out, bytes, k);
  return rc ? rc : pieces(c, in, out, bytes, c->gsize, a2a_fill, a2a_take, k);
}

int strata_comm_allreduce(strata_comm *c, const void *in, void *out, size_t count,
                          strata_dtype dt, strata_red_op op, strata_allreduce_algo algo,
                          const strata_kernel_ctx *k) {
  int rc;
  if (!is_hier(c, &rc)) return strata__local_allreduce(c, in, out, count, dt, op, algo, k);
  if (rc == 0) rc = strata__check_dt(dt, op);
  (void)algo; /* inside a node: reduce to the leader; between nodes: one exchange */
  return rc ? rc : hier_allreduce(c, in, out, count, dt, op, k);
}

/* Hierarchical: the allreduce of every block, then this rank's block. */
int strata_comm_reduce_scatter(strata_comm *c, const void *in, void *out, size_t count,
                               strata_dtype dt, strata_red_op op, const strata_kernel_ctx *k) {
  int rc;
  if (!is_hier(c, &rc)) return strata__local_reduce_scatter(c, in, out, count, dt, op, k);
  if (rc == 0) rc = strata__check_dt(dt, op);
  size_t u = strata_dtype_size(dt), all = (size_t)c->gsize * count * u;
  unsigned char *tmp = rc ? NULL : strata__calloc(1, all ? all : 1);
  if (!tmp) return rc ? rc : strata__fail(STRATA_ENOMEM, "reduce_scatter: no room for %zu B", all);
  rc = hier_allreduce(c, in, tmp, (size_t)c->gsize * count, dt, op, k);
  if (rc == 0) memcpy(out, tmp + (size_t)c->grank * count * u, count * u);
  strata__free(tmp);
  return rc;
}

/* collective.c - barrier, broadcast, allgather, reduce-scatter, allreduce
 * (one-shot and reduce-scatter + allgather) and all-to-all over a domain's
 * windows, as a sequence of steps (see comm_int.h). Data larger than the
 * window goes through in chunks; reductions combine ranks in rank order. */
#include <string.h>

#include "comm/comm_int.h"

#define ONE_SHOT_MAX_BYTES (64u * 1024u)

typedef void (*step_fn)(strata_comm *c, void *arg);

/* One step (epoch e): publish my half of the window for e, tell every peer,
 * wait until every peer published, consume. One synchronisation round: the
 * halves alternate, and no peer can overwrite the half I read at e before I
 * tell it e+1 (see comm_int.h). */
/* The first peer that has not entered step e yet (its STEP signal). */
static void blame_step(strata_comm *c, uint32_t e, int32_t *rank, int32_t *chip) {
  for (uint32_t p = 0; p < c->nranks; p++)
    if (p != c->rank && (int32_t)(READ_ONCE(strata__sig(c, p, STRATA__SIG_STEP)->value) - e) < 0)
      return strata__member_name(c, p, rank, chip);
}

static int step_run(strata_comm *c, step_fn wr, step_fn rd, void *arg, const strata_kernel_ctx *k) {
  uint32_t n1 = c->nranks - 1, e = ++c->step;
  uint64_t deadline = strata__deadline_ms(c->timeout_ms);
  int rc = strata__comm_fault_stall(c, e, k);
  if (rc) return c->broken = 1, rc;
  WRITE_ONCE(strata__sig(c, c->rank, STRATA__SIG_STEP)->value, e); /* read by blame_step */
  if (wr) wr(c, arg);
  for (uint32_t p = 0; p < c->nranks; p++)
    if (p != c->rank) strata__notify(c, p, STRATA__SIG_READY, 0, 1);
  const strata__wait_why why = {blame_step, e, NULL};
  rc = strata__wait_epoch(c, STRATA__SIG_READY, e * n1, deadline, k, &why);
  if (rc == 0 && rd) rd(c, arg);
  if (rc) c->broken = 1; /* peers are now out of step with us */
  return rc;
}

/* Rank q's half of its window for the current step. */
static unsigned char *half(strata_comm *c, uint32_t q) {
  return strata__win(c, q) + (c->step & 1) * (c->window / 2);
}

/* Traces: a collective step as a complete event on the core that ran it. */
static void trace_step(const strata_comm *c, uint64_t t0, const strata_kernel_ctx *k) {
  strata__tev ev = {t0, strata__now_ns() - t0, c->step, c->rank, STRATA_TEV_STEP,
                    STRATA_TT_CORE + (k ? strata_kernel_core_id(k) : 0), c->domain, c->nranks, 0};
  strata__trace_record(&ev);
}

static int step(strata_comm *c, step_fn wr, step_fn rd, void *arg, const strata_kernel_ctx *k) {
  uint64_t t0 = strata__trace_on(1) ? strata__now_ns() : 0;
  int rc = step_run(c, wr, rd, arg, k);
  if (t0) trace_step(c, t0, k);
  return rc;
}

/* Chunked transfer state shared by the step functions. */
typedef struct xfer {
  const unsigned char *in;
  unsigned char *out;
  size_t total, off, len; /* in units (bytes or elements) */
  size_t unit, chunk;     /* bytes per unit, units per chunk (per block) */
  uint32_t root;
  strata_dtype dt;
  strata_red_op op;
  const strata_kernel_ctx *k; /* for_chunks sets it: reductions report progress */
} xfer;

static int for_chunks(strata_comm *c, xfer *x, step_fn wr, step_fn rd, const strata_kernel_ctx *k) {
  int rc = strata__comm_check(c);
  if (rc == 0 && x->chunk == 0)
    rc = strata__fail(STRATA_EINVAL, "comm: window of %zu B is too small for %u ranks; "
                      "create the domain with a larger window",
                      c->window, c->nranks);
  x->k = k;
  for (x->off = 0; rc == 0 && x->off < x->total; x->off += x->chunk) {
    x->len = x->total - x->off < x->chunk ? x->total - x->off : x->chunk;
    rc = step(c, wr, rd, x, k);
  }
  return rc;
}

int strata__local_barrier(strata_comm *c, const strata_kernel_ctx *k) {
  int rc = strata__comm_check(c);
  return rc ? rc : step(c, NULL, NULL, NULL, k);
}

/* ---- broadcast ---- */
static void bc_wr(strata_comm *c, void *a) {
  xfer *x = a;
  if (c->rank == x->root) memcpy(half(c, c->rank), x->out + x->off, x->len);
}
static void bc_rd(strata_comm *c, void *a) {
  xfer *x = a;
  if (c->rank != x->root) memcpy(x->out + x->off, half(c, x->root), x->len);
}

int strata__local_broadcast(strata_comm *c, void *buf, size_t bytes, uint32_t root,
                            const strata_kernel_ctx *k) {
  if (c && root >= c->nranks)
    return strata__fail(STRATA_EINVAL, "broadcast: root %u of %u ranks", root, c->nranks);
  xfer x = {NULL, buf, bytes, 0, 0, 1, c ? c->window / 2 : 0, root, 0, 0, NULL};
  return for_chunks(c, &x, bc_wr, bc_rd, k);
}

/* ---- allgather ---- */
static void unit_wr(strata_comm *c, void *a) { /* publish units [off, off+len) of in */
  xfer *x = a;
  memcpy(half(c, c->rank), x->in + x->off * x->unit, x->len * x->unit);
}
static void ag_rd(strata_comm *c, void *a) {
  xfer *x = a;
  for (uint32_t q = 0; q < c->nranks; q++)
    memcpy(x->out + q * x->total + x->off, half(c, q), x->len);
}

int strata__local_allgather(strata_comm *c, const void *in, void *out, size_t bytes,
                            const strata_kernel_ctx *k) {
  xfer x = {in, out, bytes, 0, 0, 1, c ? c->window / 2 : 0, 0, 0, 0, NULL};
  return for_chunks(c, &x, unit_wr, ag_rd, k);
}

/* ---- all-to-all: window holds one chunk per destination ---- */
static void a2a_wr(strata_comm *c, void *a) {
  xfer *x = a;
  for (uint32_t q = 0; q < c->nranks; q++)
    memcpy(half(c, c->rank) + q * x->chunk, x->in + q * x->total + x->off, x->len);
}
static void a2a_rd(strata_comm *c, void *a) {
  xfer *x = a;
  for (uint32_t q = 0; q < c->nranks; q++)
    memcpy(x->out + q * x->total + x->off, half(c, q) + c->rank * x->chunk, x->len);
}

int strata__local_alltoall(strata_comm *c, const void *in, void *out, size_t bytes,
                           const strata_kernel_ctx *k) {
  xfer x = {in, out, bytes, 0, 0, 1, c ? c->window / 2 / c->nranks : 0, 0, 0, 0, NULL};
  return for_chunks(c, &x, a2a_wr, a2a_rd, k);
}

/* ---- reductions ---- */
static void reduce_from(strata_comm *c, xfer *x, size_t win_off, size_t n, unsigned char *dst) {
  const void *src[STRATA_NODE_MAX_CHILDREN];
  for (uint32_t q = 0; q < c->nranks; q++) src[q] = half(c, q) + win_off;
  strata__reduce_k(dst, src, c->nranks, n, x->dt, x->op, x->k);
}

static void rs_wr(strata_comm *c, void *a) { /* block s of the chunk at s * chunk */
  xfer *x = a;
  for (uint32_t s = 0; s < c->nranks; s++)
    memcpy(half(c, c->rank) + s * x->chunk * x->unit,
           x->in + (s * x->total + x->off) * x->unit, x->len * x->unit);
}
static void rs_rd(strata_comm *c, void *a) {
  xfer *x = a;
  reduce_from(c, x, c->rank * x->chunk * x->unit, x->len, x->out + x->off * x->unit);
}

int strata__check_dt(strata_dtype dt, strata_red_op op) {
  int arith = dt == STRATA_DT_F32 || dt == STRATA_DT_F64 || dt == STRATA_DT_I32 ||
              dt == STRATA_DT_I64 || dt == STRATA_DT_F16 || dt == STRATA_DT_BF16;
  if (!arith || (unsigned)op > STRATA_OP_PROD)
    return strata__fail(STRATA_EINVAL, "comm reduction: dtype %d / op %d unsupported "
                        "(f32, f64, i32, i64, f16, bf16; sum, max, min, prod)", (int)dt, (int)op);
  return 0;
}

int strata__local_reduce_scatter(strata_comm *c, const void *in, void *out, size_t count,
                                 strata_dtype dt, strata_red_op op, const strata_kernel_ctx *k) {
  int rc = strata__check_dt(dt, op);
  if (rc) return rc;
  size_t u = strata_dtype_size(dt);
  xfer x = {in, out, count, 0, 0, u, c ? c->window / 2 / (c->nranks * u) : 0, 0, dt, op, NULL};
  return for_chunks(c, &x, rs_wr, rs_rd, k);
}

/* One-shot: publish the chunk, every rank reduces all windows. */
static void os_rd(strata_comm *c, void *a) {
  xfer *x = a;
  reduce_from(c, x, 0, x->len, x->out + x->off * x->unit);
}

/* Reduce to rank 0: the other ranks publish the chunk, rank 0 reduces its
 * own input and theirs (in rank order) into out; the others' out is untouched. */
static void red0_wr(strata_comm *c, void *a) {
  if (c->rank != 0) unit_wr(c, a);
}
static void red0_rd(strata_comm *c, void *a) {
  xfer *x = a;
  const void *src[STRATA_NODE_MAX_CHILDREN];
  if (c->rank != 0) return;
  src[0] = x->in + x->off * x->unit;
  for (uint32_t q = 1; q < c->nranks; q++) src[q] = half(c, q);
  strata__reduce_k(x->out + x->off * x->unit, src, c->nranks, x->len, x->dt, x->op, x->k);
}

int strata__local_reduce0(strata_comm *c, const void *in, void *out, size_t count,
                          strata_dtype dt, strata_red_op op, const strata_kernel_ctx *k) {
  size_t u = strata_dtype_size(dt);
  xfer x = {in, out, count, 0, 0, u, c ? c->window / 2 / u : 0, 0, dt, op, NULL};
  return for_chunks(c, &x, red0_wr, red0_rd, k);
}

/* RS + AG over a chunk, two steps: the first publishes the chunk and
 * reduces this rank's segment into out; the second publishes that segment
 * and gathers every rank's segment into out. */
static size_t seg_len(const xfer *x, uint32_t nranks, uint32_t q, size_t *start) {
  size_t seg = (x->len + nranks - 1) / nranks;
  *start = q * seg < x->len ? q * seg : x->len;
  return (*start + seg < x->len ? *start + seg : x->len) - *start;
}
static void rsag_rd1(strata_comm *c, void *a) {
  xfer *x = a;
  size_t s, n = seg_len(x, c->nranks, c->rank, &s);
  if (n) reduce_from(c, x, s * x->unit, n, x->out + (x->off + s) * x->unit);
}
static void rsag_wr2(strata_comm *c, void *a) {
  xfer *x = a;
  size_t s, n = seg_len(x, c->nranks, c->rank, &s);
  memcpy(half(c, c->rank) + s * x->unit, x->out + (x->off + s) * x->unit, n * x->unit);
}
static void rsag_rd2(strata_comm *c, void *a) {
  xfer *x = a;
  for (uint32_t q = 0; q < c->nranks; q++) {
    size_t s, n = seg_len(x, c->nranks, q, &s);
    if (q != c->rank) memcpy(x->out + (x->off + s) * x->unit, half(c, q) + s * x->unit, n * x->unit);
  }
}

static int rsag(strata_comm *c, xfer *x, const strata_kernel_ctx *k) {
  int rc = strata__comm_check(c);
  if (rc) return rc;
  if (x->chunk == 0) rc = strata__fail(STRATA_EINVAL, "comm: window too small");
  for (x->off = 0; rc == 0 && x->off < x->total; x->off += x->chunk) {
    x->len = x->total - x->off < x->chunk ? x->total - x->off : x->chunk;
    rc = step(c, unit_wr, rsag_rd1, x, k);
    if (rc == 0) rc = step(c, rsag_wr2, rsag_rd2, x, k);
  }
  return rc;
}

int strata__local_allreduce(strata_comm *c, const void *in, void *out, size_t count,
                            strata_dtype dt, strata_red_op op, strata_allreduce_algo algo,
                            const strata_kernel_ctx *k) {
  int rc = strata__check_dt(dt, op);
  if (rc) return rc;
  size_t u = strata_dtype_size(dt);
  if (algo == STRATA_ALLREDUCE_AUTO)
    algo = count * u <= ONE_SHOT_MAX_BYTES ? STRATA_ALLREDUCE_ONE_SHOT : STRATA_ALLREDUCE_RS_AG;
  xfer x = {in, out, count, 0, 0, u, c ? c->window / 2 / u : 0, 0, dt, op, NULL};
  if (algo == STRATA_ALLREDUCE_ONE_SHOT) return for_chunks(c, &x, unit_wr, os_rd, k);
  if (algo != STRATA_ALLREDUCE_RS_AG)
    return strata__fail(STRATA_EINVAL, "allreduce: unknown algorithm %d", (int)algo);
  return rsag(c, &x, k);
}

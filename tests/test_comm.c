/* test_comm.c - communication domains and collectives across chip
 * children: ranks 1,2,3,4,5,8; sizes 0,1,17,257,65537 through a 4 KiB
 * window; every collective, dtype and op checked bitwise on every rank with
 * canaries; in place; back-to-back signal reuse; the kernel primitives;
 * cancellation by the hang detector; a killed rank; subset domains. */
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "platform/platform_int.h"
#include "util.h"
#include "test_comm_list.h"

#define WINDOW 4096
#define CANARY 0xA5u
#define MAXR 8

enum { C_BARRIER, C_BROADCAST, C_ALLGATHER, C_REDUCE_SCATTER, C_ALLREDUCE, C_ALLTOALL };

static uint32_t O_COLL, O_PRIM, K_PRIM, O_WAIT, K_WAIT, O_TRICKLE, K_TRICKLE;

/* ---- values: small integers, exact in every dtype ---------------------------- */
static int val(uint32_t r, size_t i) { return 1 + (int)((r * 3 + i) % 2); }

static uint16_t f16_of(int v) { /* exact for 0 < v < 2048 */
  int e = 31 - __builtin_clz((unsigned)v);
  return (uint16_t)(((e + 15) << 10) | ((v - (1 << e)) << (10 - e)));
}
static uint16_t bf16_of(int v) {
  float f = (float)v;
  uint32_t b;
  memcpy(&b, &f, sizeof(b));
  return (uint16_t)(b >> 16);
}

static void put(void *buf, strata_dtype dt, size_t i, long v) {
  switch (dt) {
    case STRATA_DT_F32: ((float *)buf)[i] = (float)v; break;
    case STRATA_DT_F64: ((double *)buf)[i] = (double)v; break;
    case STRATA_DT_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case STRATA_DT_I64: ((int64_t *)buf)[i] = v; break;
    case STRATA_DT_F16: ((uint16_t *)buf)[i] = f16_of((int)v); break;
    case STRATA_DT_BF16: ((uint16_t *)buf)[i] = bf16_of((int)v); break;
    default: ((uint8_t *)buf)[i] = (uint8_t)v;
  }
}

static long combine(long a, long b, strata_red_op op) {
  switch (op) {
    case STRATA_OP_SUM: return a + b;
    case STRATA_OP_PROD: return a * b;
    case STRATA_OP_MAX: return a > b ? a : b;
    default: return a < b ? a : b;
  }
}

static long reduced(uint32_t n, size_t i, strata_red_op op) {
  long acc = val(0, i);
  for (uint32_t r = 1; r < n; r++) acc = combine(acc, val(r, i), op);
  return acc;
}

/* ---- the chip side ------------------------------------------------------------- */
/* Node task args: tensors [in, out]; scalars kind, domain, dtype, op, x, repeats. */
static void o_coll(strata_orch *o, void *arg) {
  const strata_args *a = arg;
  uint64_t kind = a->scalars[0], x = a->scalars[4], reps = a->scalars[5];
  uint32_t d = (uint32_t)a->scalars[1];
  strata_red_op op = (strata_red_op)a->scalars[3];
  strata_tensor in = a->tensors[0], out = a->tensors[1];
  size_t slice_in = in.bytes / reps, slice_out = out.bytes / reps;
  for (uint64_t k = 0; k < reps; k++) {
    strata_tensor i = strata_tensor_view(&a->tensors[0], k * slice_in, slice_in);
    strata_tensor u = strata_tensor_view(&a->tensors[1], k * slice_out, slice_out);
    i.dtype = u.dtype = (strata_dtype)a->scalars[2];
    switch (kind) {
      case C_BARRIER: strata_comm_submit_barrier(o, d, NULL); break;
      case C_BROADCAST: strata_comm_submit_broadcast(o, d, &i, (uint32_t)x, NULL); break;
      case C_ALLGATHER: strata_comm_submit_allgather(o, d, &i, &u, NULL); break;
      case C_REDUCE_SCATTER: strata_comm_submit_reduce_scatter(o, d, &i, &u, op, NULL); break;
      case C_ALLREDUCE:
        strata_comm_submit_allreduce(o, d, &i, &u, op, (strata_allreduce_algo)x, NULL);
        break;
      default: strata_comm_submit_alltoall(o, d, &i, &u, NULL);
    }
  }
  (void)in;
  (void)out;
}

/* Primitives. tensor 0: int64 results[16]; scalar 0: domain. */
static void k_prim(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 0));
  int64_t *res = strata_kernel_tensor(k, 0)->data;
  uint64_t magic = 0xBEEF, got = 0;
  if (strata_comm_rank(c) == 0) {
    res[0] = strata_comm_put(c, 1, 64, &magic, sizeof(magic));
    res[1] = strata_comm_notify(c, 1, 3, STRATA_NOTIFY_SET, 7);
    res[2] = strata_comm_wait(c, 5, STRATA_CMP_GE, 4, 0, k);
    res[3] = strata_comm_wait(c, 6, STRATA_CMP_EQ, 1, 100, k); /* nobody: ETIMEDOUT */
    res[4] = strata_comm_notify(c, 9, 0, STRATA_NOTIFY_ADD, 1);  /* bad rank: EINVAL */
  } else if (strata_comm_rank(c) == 1) {
    res[0] = strata_comm_wait(c, 3, STRATA_CMP_EQ, 7, 0, k);
    res[1] = strata_comm_get(c, 1, 64, &got, sizeof(got));
    res[2] = (int64_t)got;
    res[3] = (int64_t)*(uint64_t *)((char *)strata_comm_peer_ptr(c, 1) + 64);
    strata_comm_notify(c, 0, 5, STRATA_NOTIFY_ADD, 2);
    strata_comm_notify(c, 0, 5, STRATA_NOTIFY_ADD, 2);
    static const strata_cmp cmps[] = {STRATA_CMP_NE, STRATA_CMP_GT, STRATA_CMP_GE,
                                      STRATA_CMP_LT, STRATA_CMP_LE};
    static const uint32_t vals[] = {0, 6, 7, 8, 7};
    for (int i = 0; i < 5; i++) res[4 + i] = strata_comm_wait(c, 3, cmps[i], vals[i], 100, k);
  }
  res[15] = strata_comm_barrier(c, k);
}

static void o_prim(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  strata_orch_submit(o, K_PRIM, &a, NULL);
}

/* Waits on a signal nobody notifies (only cancellation or abort ends it). */
static void k_wait(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 0));
  uint64_t sleep_first = strata_kernel_scalar(k, 1);
  for (uint64_t i = 0; i < sleep_first && !strata_kernel_cancelled(k); i++) sleep_ms(1);
  int rc = strata_comm_wait(c, 7, STRATA_CMP_EQ, 1, 0, k);
  if (rc) strata_kernel_fail(k, "%s", strata_last_error());
}

static void o_wait(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  strata_orch_submit(o, K_WAIT, &a, NULL);
}

/* Rank 0 notifies rank 1 every 100 ms, n times (scalar 1; its own
 * progress each time); rank 1 waits for all n in one strata_comm_wait. */
static void k_trickle(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 0));
  uint32_t n = (uint32_t)strata_kernel_scalar(k, 1);
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && strata_comm_rank(c) == 0 && i < n; i++) {
    for (int t = 0; t < 100 && !strata_kernel_cancelled(k); t++) sleep_ms(1);
    rc = strata_comm_notify(c, 1, 8, STRATA_NOTIFY_ADD, 1);
    strata_kernel_progress(k);
  }
  if (strata_comm_rank(c) == 1) rc = strata_comm_wait(c, 8, STRATA_CMP_GE, n, 0, k);
  if (rc) strata_kernel_fail(k, "%s", strata_last_error());
}

static void o_trickle(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  strata_orch_submit(o, K_TRICKLE, &a, NULL);
}

/* ---- node side helpers ------------------------------------------------------------ */
typedef struct bufs {
  unsigned char *in[MAXR], *out[MAXR];
  size_t in_bytes, out_bytes;
} bufs;

static uint32_t sched_timeout_ms = 30000, sync_timeout_ms = 40000, unordered, task_timeout_ms;

static strata_node *comm_node(uint32_t ranks, uint32_t *domain) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.chip = cfg_small();
  cfg_set(&c.chip, STRATA_CFG_SCHED_TIMEOUT, &c.chip.scheduler_timeout_ms, sched_timeout_ms);
  cfg_set(&c.chip, STRATA_CFG_SYNC_TIMEOUT, &c.chip.stream_sync_timeout_ms, sync_timeout_ms);
  cfg_set(&c.chip, STRATA_CFG_UNORDERED_TIMEOUTS, &c.chip.unordered_timeouts, unordered);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_DEVMEM;
  if (task_timeout_ms) c.field_mask |= STRATA_NCFG_TASK_TIMEOUT;
  c.task_timeout_ms = task_timeout_ms;
  c.chips = ranks;
  c.devmem_bytes = 16 << 20;
  cfg_set(&c.chip, STRATA_CFG_SCHED_THREADS, &c.chip.sched_threads, 1);
  cfg_set(&c.chip, STRATA_CFG_CLUSTERS, &c.chip.clusters, 1);
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), 0);
  assert_int_equal(strata_node_register_orch(n, "coll", o_coll, &O_COLL), 0);
  assert_int_equal(strata_node_register_kernel(n, "prim", k_prim, STRATA_CORE_AIV, &K_PRIM), 0);
  assert_int_equal(strata_node_register_orch(n, "prim", o_prim, &O_PRIM), 0);
  assert_int_equal(strata_node_register_kernel(n, "wait", k_wait, STRATA_CORE_AIV, &K_WAIT), 0);
  assert_int_equal(strata_node_register_orch(n, "wait", o_wait, &O_WAIT), 0);
  assert_int_equal(strata_node_register_kernel(n, "trickle", k_trickle, STRATA_CORE_AIV, &K_TRICKLE), 0);
  assert_int_equal(strata_node_register_orch(n, "trickle", o_trickle, &O_TRICKLE), 0);
  assert_int_equal(strata_node_init(n), 0);
  uint32_t chips[MAXR];
  for (uint32_t r = 0; r < ranks; r++) chips[r] = r;
  if (domain) assert_int_equal(strata_node_domain_create(n, chips, ranks, WINDOW, domain), 0);
  return n;
}

static void alloc_bufs(strata_node *n, uint32_t ranks, bufs *b, size_t in_bytes, size_t out_bytes) {
  b->in_bytes = in_bytes;
  b->out_bytes = out_bytes;
  for (uint32_t r = 0; r < ranks; r++) {
    void *p, *q; /* chip 0's device memory: every process maps all of it */
    assert_int_equal(strata_node_malloc(n, 0, in_bytes + 64, &p), 0);
    assert_int_equal(strata_node_malloc(n, 0, out_bytes + 64, &q), 0);
    b->in[r] = p;
    b->out[r] = q;
    memset(b->in[r], CANARY, in_bytes + 64);
    memset(b->out[r], CANARY, out_bytes + 64);
  }
}

static void free_bufs(strata_node *n, uint32_t ranks, bufs *b) {
  for (uint32_t r = 0; r < ranks; r++) {
    for (int i = 0; i < 64; i++) { /* canaries after every buffer */
      assert_int_equal(b->in[r][b->in_bytes + (size_t)i], CANARY);
      assert_int_equal(b->out[r][b->out_bytes + (size_t)i], CANARY);
    }
    assert_int_equal(strata_node_free(n, 0, b->in[r]), 0);
    assert_int_equal(strata_node_free(n, 0, b->out[r]), 0);
  }
}

typedef struct coll_job {
  uint32_t ranks, domain, kind, x, reps;
  strata_dtype dt;
  strata_red_op op;
  bufs *b;
  const uint32_t *chips; /* chip of each rank; NULL: rank r on chip r */
} coll_job;

static void coll_orch(strata_node_orch *o, void *arg) {
  coll_job *j = arg;
  strata_args a[MAXR];
  strata_node_member m[MAXR];
  for (uint32_t r = 0; r < j->ranks; r++) {
    strata_tensor in = strata_tensor_external(j->b->in[r], j->b->in_bytes, j->dt);
    strata_tensor out = strata_tensor_external(j->b->out[r], j->b->out_bytes, j->dt);
    strata_args_init(&a[r]);
    strata_args_tensor(&a[r], STRATA_INOUT, &in);
    strata_args_tensor(&a[r], STRATA_INOUT, &out);
    uint64_t s[6] = {j->kind, j->domain, (uint64_t)j->dt, (uint64_t)j->op, j->x, j->reps};
    for (int i = 0; i < 6; i++) strata_args_scalar(&a[r], s[i]);
    m[r] = (strata_node_member){j->chips ? j->chips[r] : r, O_COLL, &a[r]};
  }
  assert_int_equal(strata_node_submit_group(o, m, j->ranks, NULL), 0);
}

static void run_coll(strata_node *n, coll_job *j) {
  strata_node_run_info info;
  int rc = strata_node_run(n, coll_orch, j, &info);
  if (rc) fprintf(stderr, "collective %u failed: %s\n", j->kind, info.message);
  assert_int_equal(rc, 0);
}

/* out of every rank equals want (bytes), and all ranks are bitwise equal */
static void expect_all(uint32_t ranks, bufs *b, const unsigned char *want, size_t bytes) {
  for (uint32_t r = 0; r < ranks; r++) assert_memory_equal(b->out[r], want, bytes);
}

static void fill_in(uint32_t ranks, bufs *b, strata_dtype dt, size_t count) {
  for (uint32_t r = 0; r < ranks; r++)
    for (size_t i = 0; i < count; i++) put(b->in[r], dt, i, val(r, i));
}

/* ---- allreduce over rank counts and sizes ------------------------------------------- */
static void allreduce_sizes(uint32_t ranks) {
  static const size_t sizes[] = {0, 1, 17, 257, 65537};
  uint32_t d;
  strata_node *n = comm_node(ranks, &d);
  for (size_t s = 0; s < STRATA_ARRAY_SIZE(sizes); s++) {
    size_t count = sizes[s], bytes = count * sizeof(float);
    bufs b;
    alloc_bufs(n, ranks, &b, bytes, bytes);
    fill_in(ranks, &b, STRATA_DT_F32, count);
    coll_job j = {ranks, d, C_ALLREDUCE, STRATA_ALLREDUCE_AUTO, 1, STRATA_DT_F32, STRATA_OP_SUM, &b, NULL};
    run_coll(n, &j);
    unsigned char *want = malloc(bytes + 1);
    for (size_t i = 0; i < count; i++) put(want, STRATA_DT_F32, i, reduced(ranks, i, STRATA_OP_SUM));
    expect_all(ranks, &b, want, bytes);
    free(want);
    free_bufs(n, ranks, &b);
  }
  strata_node_close(n);
}

STRATA_TEST(allreduce_1_rank) { (void)state; allreduce_sizes(1); }
STRATA_TEST(allreduce_2_ranks) { (void)state; allreduce_sizes(2); }
STRATA_TEST(allreduce_3_ranks) { (void)state; allreduce_sizes(3); }
STRATA_TEST(allreduce_4_ranks) { (void)state; allreduce_sizes(4); }
STRATA_TEST(allreduce_5_ranks) { (void)state; allreduce_sizes(5); }
STRATA_TEST(allreduce_8_ranks_more_than_cores) { (void)state; allreduce_sizes(8); }

/* ---- every collective, dtype and op -------------------------------------------------- */
static const strata_dtype dtypes[] = {STRATA_DT_F32, STRATA_DT_F64, STRATA_DT_I32,
                                      STRATA_DT_I64, STRATA_DT_F16, STRATA_DT_BF16};

static void check_reduction(strata_node *n, uint32_t d, uint32_t kind, uint32_t algo,
                            strata_dtype dt, strata_red_op op) {
  const uint32_t R = 4;
  size_t u = strata_dtype_size(dt), count = kind == C_ALLREDUCE ? 257 : 17 * R;
  size_t out_count = kind == C_ALLREDUCE ? count : 17;
  bufs b;
  alloc_bufs(n, R, &b, count * u, out_count * u);
  fill_in(R, &b, dt, count);
  coll_job j = {R, d, kind, algo, 1, dt, op, &b, NULL};
  run_coll(n, &j);
  for (uint32_t r = 0; r < R; r++) {
    unsigned char want[257 * 8];
    size_t base = kind == C_ALLREDUCE ? 0 : r * out_count;
    for (size_t i = 0; i < out_count; i++) put(want, dt, i, reduced(R, base + i, op));
    assert_memory_equal(b.out[r], want, out_count * u);
  }
  free_bufs(n, R, &b);
}

STRATA_TEST(reductions_every_dtype_and_op) {
  (void)state;
  uint32_t d;
  strata_node *n = comm_node(4, &d);
  for (size_t t = 0; t < STRATA_ARRAY_SIZE(dtypes); t++)
    for (int op = STRATA_OP_SUM; op <= STRATA_OP_PROD; op++) {
      check_reduction(n, d, C_ALLREDUCE, STRATA_ALLREDUCE_ONE_SHOT, dtypes[t], (strata_red_op)op);
      check_reduction(n, d, C_ALLREDUCE, STRATA_ALLREDUCE_RS_AG, dtypes[t], (strata_red_op)op);
      check_reduction(n, d, C_REDUCE_SCATTER, 0, dtypes[t], (strata_red_op)op);
    }
  strata_node_close(n);
}

STRATA_TEST(broadcast_allgather_alltoall) {
  (void)state;
  const uint32_t R = 5; /* sizes not divisible by the rank count */
  uint32_t d;
  strata_node *n = comm_node(R, &d);
  bufs b;
  size_t bytes = 10007; /* > window: chunked */
  alloc_bufs(n, R, &b, bytes, bytes * R);
  for (uint32_t r = 0; r < R; r++)
    for (size_t i = 0; i < bytes; i++) b.in[r][i] = (unsigned char)(r * 31 + i * 7);
  coll_job j = {R, d, C_BROADCAST, 2, 1, STRATA_DT_U8, STRATA_OP_SUM, &b, NULL};
  run_coll(n, &j); /* in place on `in` */
  for (uint32_t r = 0; r < R; r++) assert_memory_equal(b.in[r], b.in[2], bytes);
  for (uint32_t r = 0; r < R; r++)
    for (size_t i = 0; i < bytes; i++) b.in[r][i] = (unsigned char)(r * 31 + i * 7);
  j.kind = C_ALLGATHER;
  run_coll(n, &j);
  for (uint32_t r = 0; r < R; r++)
    for (uint32_t q = 0; q < R; q++) assert_memory_equal(b.out[r] + q * bytes, b.in[q], bytes);
  j.kind = C_ALLTOALL; /* in: R blocks of bytes / R (2001 B) */
  size_t blk = bytes / R;
  b.in_bytes = blk * R;
  run_coll(n, &j);
  for (uint32_t r = 0; r < R; r++)
    for (uint32_t q = 0; q < R; q++) assert_memory_equal(b.out[r] + q * blk, b.in[q] + r * blk, blk);
  b.in_bytes = bytes;
  free_bufs(n, R, &b);
  strata_node_close(n);
}

STRATA_TEST(in_place_allreduce) {
  (void)state;
  const uint32_t R = 3;
  uint32_t d;
  strata_node *n = comm_node(R, &d);
  bufs b;
  size_t count = 3001;
  alloc_bufs(n, R, &b, count * 8, 64);
  fill_in(R, &b, STRATA_DT_I64, count);
  for (uint32_t r = 0; r < R; r++) b.out[r] = b.in[r]; /* same buffer */
  b.out_bytes = b.in_bytes;
  coll_job j = {R, d, C_ALLREDUCE, STRATA_ALLREDUCE_RS_AG, 1, STRATA_DT_I64, STRATA_OP_SUM, &b, NULL};
  run_coll(n, &j);
  for (uint32_t r = 0; r < R; r++)
    for (size_t i = 0; i < count; i++)
      assert_int_equal(((int64_t *)b.in[r])[i], reduced(R, i, STRATA_OP_SUM));
  strata_node_close(n);
}

STRATA_TEST(back_to_back_calls_reuse_signals) {
  (void)state;
  const uint32_t R = 4, REPS = 50, C = 17;
  uint32_t d;
  strata_node *n = comm_node(R, &d);
  bufs b;
  alloc_bufs(n, R, &b, REPS * C * 4, REPS * C * 4);
  for (uint32_t r = 0; r < R; r++)
    for (size_t i = 0; i < REPS * C; i++) ((int32_t *)b.in[r])[i] = (int32_t)(val(r, i) + i / C);
  coll_job j = {R, d, C_ALLREDUCE, STRATA_ALLREDUCE_ONE_SHOT, REPS, STRATA_DT_I32, STRATA_OP_SUM, &b, NULL};
  run_coll(n, &j);
  for (uint32_t r = 0; r < R; r++)
    for (size_t i = 0; i < REPS * C; i++)
      assert_int_equal(((int32_t *)b.out[r])[i], reduced(R, i, STRATA_OP_SUM) + (long)(R * (i / C)));
  free_bufs(n, R, &b);
  strata_node_close(n);
}

/* ---- primitives, cancellation, lost ranks, subsets ------------------------------ */
typedef struct one_job {
  uint32_t ranks, domain, orch;
  uint64_t scalar1[MAXR];
  strata_tensor res[MAXR];
} one_job;

static void one_orch(strata_node_orch *o, void *arg) {
  one_job *j = arg;
  strata_args a[MAXR];
  strata_node_member m[MAXR];
  for (uint32_t r = 0; r < j->ranks; r++) {
    strata_args_init(&a[r]);
    strata_args_tensor(&a[r], STRATA_INOUT, &j->res[r]);
    strata_args_scalar(&a[r], j->domain);
    strata_args_scalar(&a[r], j->scalar1[r]);
    m[r] = (strata_node_member){r, j->orch, &a[r]};
  }
  assert_int_equal(strata_node_submit_group(o, m, j->ranks, NULL), 0);
  if (j->scalar1[j->ranks - 1] == 3000) { /* the killed-rank test */
    sleep_ms(300);
    kill(strata_node_child_pid(strata_node_orch_node(o), STRATA_CHILD_CHIP, j->ranks - 1), SIGKILL);
  }
}

static void one_setup(strata_node *n, one_job *j) {
  for (uint32_t r = 0; r < j->ranks; r++) {
    void *p;
    assert_int_equal(strata_node_malloc(n, r, 16 * 8, &p), 0);
    memset(p, 0x7f, 16 * 8);
    j->res[r] = strata_tensor_external(p, 16 * 8, STRATA_DT_I64);
  }
}

STRATA_TEST(primitives_put_get_notify_wait_barrier) {
  (void)state;
  uint32_t d;
  strata_node *n = comm_node(3, &d);
  one_job j = {3, d, O_PRIM, {0}, {{0}}};
  one_setup(n, &j);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, one_orch, &j, &info), 0);
  int64_t *r0 = j.res[0].data, *r1 = j.res[1].data, *r2 = j.res[2].data;
  assert_int_equal(r0[0], 0);
  assert_int_equal(r0[1], 0);
  assert_int_equal(r0[2], 0);
  assert_int_equal(r0[3], STRATA_ETIMEDOUT);
  assert_int_equal(r0[4], STRATA_EINVAL);
  assert_int_equal(r1[0], 0);
  assert_int_equal(r1[1], 0);
  assert_int_equal(r1[2], 0xBEEF);
  assert_int_equal(r1[3], 0xBEEF);
  for (int i = 4; i < 9; i++) assert_int_equal(r1[i], 0);
  for (int64_t *r = r0; r; r = r == r0 ? r1 : r == r1 ? r2 : NULL) assert_int_equal(r[15], 0);
  strata_node_close(n);
}

STRATA_TEST(waiting_kernel_is_cancelled_by_the_hang_detector) {
  (void)state;
  sched_timeout_ms = 300;
  uint32_t d;
  strata_node *n = comm_node(2, &d);
  one_job j = {2, d, O_WAIT, {0}, {{0}}};
  one_setup(n, &j);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, one_orch, &j, &info), STRATA_SCHEDULER_TIMEOUT);
  assert_true(ms_since(t0) < 5000); /* not the 30 s comm timeout */
  strata_node_close(n);
}

/* SPEC §4 progress: a wait whose signal keeps moving (ten notifies over
 * 1 s, against a 300 ms budget; both x STRATA_TEST_TIME_SCALE) is never
 * latched. */
STRATA_TEST(wait_that_keeps_moving_is_never_latched) {
  (void)state;
  sched_timeout_ms = scaled_ms(300);
  uint32_t d, notifies = scaled_ms(10);
  strata_node *n = comm_node(2, &d);
  one_job j = {2, d, O_TRICKLE, {notifies, notifies}, {{0}}};
  one_setup(n, &j);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  int rc = strata_node_run(n, one_orch, &j, &info);
  if (rc) fprintf(stderr, "run: %s\n", info.message);
  assert_int_equal(rc, 0);
  assert_true(ms_since(t0) >= 3 * sched_timeout_ms); /* three budgets and more */
  strata_node_close(n);
}

/* A member that stops contributing mid-collective (fault hook) is latched
 * within the budget, and its waiting peers name it: ctest checks their
 * messages for "waits for chip 2". */
STRATA_TEST(stalled_member_is_named_by_its_waiting_peers) {
  (void)state;
  setenv("STRATA_FAULT_COMM_STALL_RANK", "2", 1); /* inherited by the chips */
  setenv("STRATA_FAULT_COMM_STALL_STEP", "2", 1);
  sched_timeout_ms = scaled_ms(300);
  uint32_t d;
  strata_node *n = comm_node(3, &d);
  bufs b;
  alloc_bufs(n, 3, &b, 4 * WINDOW, 4 * WINDOW);
  fill_in(3, &b, STRATA_DT_F32, WINDOW);
  coll_job j = {3, d, C_ALLREDUCE, STRATA_ALLREDUCE_RS_AG, 1, STRATA_DT_F32, STRATA_OP_SUM, &b, NULL};
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, coll_orch, &j, &info), STRATA_SCHEDULER_TIMEOUT);
  assert_true(ms_since(t0) < scaled_ms(5000)); /* the budget, not the 30 s comm timeout */
  strata_node_close(n);
}

STRATA_TEST(killed_rank_gives_errors_not_hangs) {
  (void)state;
  uint32_t d;
  strata_node *n = comm_node(3, &d);
  one_job j = {3, d, O_WAIT, {0, 0, 3000}, {{0}}};
  one_setup(n, &j);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, one_orch, &j, &info), STRATA_ENDPOINT_FAILURE);
  assert_true(ms_since(t0) < 5000);
  assert_int_equal(info.tasks_completed, 1); /* the group, with every member finished */
  assert_non_null(strstr(info.message, "chip 2"));
  strata_node_close(n);
}

STRATA_TEST(peer_that_never_arrives_is_a_stream_sync_timeout) {
  (void)state;
  sync_timeout_ms = 500; /* well under the scheduler budget: the field's setup */
  unordered = 1;
  uint32_t d;
  strata_node *n = comm_node(2, &d);
  one_job j = {1, d, O_WAIT, {0}, {{0}}}; /* only rank 0 takes part */
  one_setup(n, &j);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, one_orch, &j, &info), STRATA_STREAM_SYNC_TIMEOUT);
  assert_true(ms_since(t0) >= 500 && ms_since(t0) < 5000);
  assert_non_null(strstr(info.message, "STREAM_SYNC_TIMEOUT_MS"));
  strata_node_close(n);
}

/* SIGSTOP of a chip while its peer waits for it in an allreduce: the task
 * deadline names the stopped chip, not the healthy one waiting. */
STRATA_TEST(stopped_chip_in_a_collective_is_named_not_its_healthy_peer) {
  (void)state;
  sync_timeout_ms = 0; /* no stream sync: the node's task deadline is the bound */
  task_timeout_ms = 1500;
  uint32_t d;
  strata_node *n = comm_node(2, &d);
  bufs b;
  alloc_bufs(n, 2, &b, 4096, 4096);
  fill_in(2, &b, STRATA_DT_F32, 1024);
  pid_t stopped = strata_node_child_pid(n, STRATA_CHILD_CHIP, 1);
  assert_int_equal(kill(stopped, SIGSTOP), 0);
  coll_job j = {2, d, C_ALLREDUCE, STRATA_ALLREDUCE_AUTO, 1, STRATA_DT_F32, STRATA_OP_SUM, &b, NULL};
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, coll_orch, &j, &info), STRATA_ETIMEDOUT);
  assert_true(ms_since(t0) >= 1500 && ms_since(t0) < 5000);
  char want[64];
  snprintf(want, sizeof(want), "chip 1 (pid %d) is stopped", (int)stopped);
  if (!strstr(info.message, want)) fprintf(stderr, "message: %s\n", info.message);
  assert_non_null(strstr(info.message, want));
  assert_non_null(strstr(info.message, "waiting for it: chip 0"));
  strata_node_close(n);
}

/* f16/bf16 reductions round to nearest, ties to even, subnormals included. */
STRATA_TEST(half_precision_rounding) {
  (void)state;
  static const uint16_t a[] = {0x3C00, 0x3C01, 0x3C00, 0x0001, 0x7BFF};
  static const uint16_t b[] = {0x1000, 0x1000, 0x1400, 0x0001, 0x5000};
  static const uint16_t sum[] = {0x3C00, 0x3C02, 0x3C01, 0x0002, 0x7C00};
  uint16_t out[5];
  const void *src[2] = {a, b};
  assert_int_equal(strata_reduce(out, src, 2, 5, STRATA_DT_F16, STRATA_OP_SUM), 0);
  assert_memory_equal(out, sum, sizeof(sum)); /* 1+2^-11 ties to 1; 65504+32 -> inf */
  static const uint16_t ba[] = {0x3F80, 0x3F81}, bb[] = {0x3B80, 0x3B80}, bsum[] = {0x3F80, 0x3F82};
  const void *bsrc[2] = {ba, bb}; /* bf16: 1+2^-8 ties to 1; (1+2^-7)+2^-8 ties up to even */
  assert_int_equal(strata_reduce(out, bsrc, 2, 2, STRATA_DT_BF16, STRATA_OP_SUM), 0);
  assert_memory_equal(out, bsum, sizeof(bsum));
  assert_int_equal(strata_reduce(out, bsrc, 2, 2, STRATA_DT_U8, STRATA_OP_SUM), STRATA_EINVAL);
}

STRATA_TEST(subset_domain_release_and_recreate) {
  (void)state;
  strata_node *n = comm_node(4, NULL);
  uint32_t chips[2] = {1, 3}, d, d2;
  assert_int_equal(strata_node_domain_create(n, chips, 2, WINDOW, &d), 0);
  assert_int_equal(shm_strata_entries(), 0); /* names unlinked once mapped */
  uint32_t dup[2] = {1, 1};
  assert_int_equal(strata_node_domain_create(n, dup, 2, WINDOW, &d2), STRATA_EINVAL);
  bufs b;
  alloc_bufs(n, 2, &b, 257 * 8, 257 * 8);
  fill_in(2, &b, STRATA_DT_F64, 257);
  coll_job j = {2, d, C_ALLREDUCE, STRATA_ALLREDUCE_AUTO, 1, STRATA_DT_F64, STRATA_OP_MAX, &b, chips};
  run_coll(n, &j);
  unsigned char want[257 * 8];
  for (size_t i = 0; i < 257; i++) put(want, STRATA_DT_F64, i, reduced(2, i, STRATA_OP_MAX));
  expect_all(2, &b, want, sizeof(want));
  free_bufs(n, 2, &b);
  assert_int_equal(strata_node_domain_release(n, d), 0);
  assert_int_equal(strata_node_domain_release(n, d), STRATA_EINVAL);
  assert_int_equal(strata_node_domain_create(n, chips, 2, WINDOW, &d2), 0);
  assert_int_equal(d2, d); /* the slot is reused */
  strata_node_close(n);
  assert_int_equal(shm_strata_entries(), 0);
}

STRATA_TEST_MAIN(TEST_LIST)

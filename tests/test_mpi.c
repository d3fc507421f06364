/* test_mpi.c - multi-host L4 (SPEC §6). Each test runs as one program on
 * every rank of `mpirun -np H` (tests/mpi_run.sh, TCP forced) and, without
 * mpirun, on one machine with forked L3 children: the same code either way.
 * Only rank 0 returns from strata_node_init, so only rank 0 asserts; the
 * wrapper checks that the job left no process and no /dev/shm entry. */
#include <signal.h>
#include <stdlib.h>
#include <math.h>
#include <unistd.h>

#include "strata/comm.h"
#include "strata/mpi.h"
#include "util.h"
#include "test_mpi_list.h"

static uint32_t K_COLL, O_COLL, L_COLL, K_ADD, O_ADD, L_ADD, K_STAMP, O_STAMP, L_STAMP, K_SLEEP, O_SLEEP, L_SLEEP;

/* ---- callables (registered on every rank before init: the same ids) ----------- */
/* Sleep scalar 0 ms, then t1[0] = the monotonic clock (system-wide). */
static void k_stamp(strata_kernel_ctx *k) {
  sleep_ms((unsigned)strata_kernel_scalar(k, 0));
  *(uint64_t *)strata_kernel_tensor(k, 1)->data = now_ns();
}

static void o_add(strata_orch *o, void *arg) { orch_one_kernel(o, K_ADD, arg); }
static void o_sleep(strata_orch *o, void *arg) { orch_one_kernel(o, K_SLEEP, arg); }
static void o_stamp(strata_orch *o, void *arg) { orch_one_kernel(o, K_STAMP, arg); }

/* On the L3 of the task's rank (util.h: another rank's buffer arrives as NULL). */
static void l_add(strata_node_orch *o, void *arg) { level_forward(o, O_ADD, arg); }
static void l_sleep(strata_node_orch *o, void *arg) { level_forward(o, O_SLEEP, arg); }
static void l_stamp(strata_node_orch *o, void *arg) { level_forward(o, O_STAMP, arg); }

/* ---- collectives over the chips of every rank --------------------------------- */
/* Element i of rank q's input: not exactly summable in f32 (rounding depends
 * on the order), so equal bits on every rank show one reduction order. */
static float in_f32(uint32_t q, size_t i) { return 1.0f / (float)(1 + q + 3 * (i % 101)) + (float)(i % 7); }
static int32_t in_i32(uint32_t q, size_t i) { return (int32_t)((q * 7919u + i * 104729u) % 100003u); }

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
  return h;
}

typedef struct cres {
  uint64_t hash, errors, size, rank;
} cres;

/* f32 sum allreduce: within 1e-5 relative of the double sum; hashed. */
static void check_allreduce(strata_comm *c, size_t n, cres *r, const strata_kernel_ctx *k) {
  uint32_t q = strata_comm_rank(c), p = strata_comm_size(c);
  float *in = malloc(n * 4 + 4), *out = malloc(n * 4 + 4);
  for (size_t i = 0; i < n; i++) {
    in[i] = in_f32(q, i);
    if (!(i & 0xffff)) strata_kernel_progress(k); /* long compute on a shared CPU: not a hang */
  }
  r->errors += strata_comm_allreduce(c, in, out, n, STRATA_DT_F32, STRATA_OP_SUM,
                                     STRATA_ALLREDUCE_AUTO, k) != 0;
  for (size_t i = 0; i < n; i++) {
    if (!(i & 0xffff)) strata_kernel_progress(k);
    double ref = 0;
    for (uint32_t s = 0; s < p; s++) ref += in_f32(s, i);
    r->errors += fabs(out[i] - ref) > 1e-5 * fabs(ref);
  }
  for (size_t i = 0; i < n; i += 65536) { /* 64 MiB hashed on a shared CPU: progress */
    r->hash = fnv(r->hash, out + i, (n - i < 65536 ? n - i : 65536) * 4);
    strata_kernel_progress(k);
  }
  free(in);
  free(out);
}

/* Which collective went wrong, on stderr (the chip's), for the log. */
static void note(uint32_t q, size_t n, const char *what, const cres *r, uint64_t *seen) {
  if (r->errors != *seen)
    fprintf(stderr, "rank %u, %zu elements: %s: %llu errors\n", q, n, what,
            (unsigned long long)(r->errors - *seen));
  *seen = r->errors;
}

/* Exact ones: i32 max allreduce, broadcast, allgather, reduce-scatter, all-to-all. */
static void check_exact(strata_comm *c, size_t n, cres *r, const strata_kernel_ctx *k) {
  uint32_t q = strata_comm_rank(c), p = strata_comm_size(c), root = p - 1;
  int32_t *in = malloc(n * 4 * p + 4), *out = malloc(n * 4 * p + 4);
  for (size_t i = 0; i < n * p; i++) in[i] = in_i32(q, i);
  uint64_t e0 = r->errors;
  r->errors += strata_comm_allreduce(c, in, out, n, STRATA_DT_I32, STRATA_OP_MAX,
                                     STRATA_ALLREDUCE_AUTO, k) != 0;
  for (size_t i = 0; i < n; i++) {
    int32_t m = in_i32(0, i);
    for (uint32_t s = 1; s < p; s++) m = in_i32(s, i) > m ? in_i32(s, i) : m;
    r->errors += out[i] != m;
  }
  note(q, n, "max allreduce", r, &e0);
  for (size_t i = 0; i < n; i++) out[i] = q == root ? in_i32(root, i) : -1;
  r->errors += strata_comm_broadcast(c, out, n * 4, root, k) != 0;
  for (size_t i = 0; i < n; i++) r->errors += out[i] != in_i32(root, i);
  note(q, n, "bcast", r, &e0);
  r->errors += strata_comm_allgather(c, in, out, n * 4, k) != 0;
  for (uint32_t s = 0; s < p; s++)
    for (size_t i = 0; i < n; i++) r->errors += out[s * n + i] != in_i32(s, i);
  note(q, n, "allgather", r, &e0);
  r->errors += strata_comm_alltoall(c, in, out, n * 4, k) != 0; /* block s of in goes to s */
  for (uint32_t s = 0; s < p; s++)
    for (size_t i = 0; i < n; i++) r->errors += out[s * n + i] != in_i32(s, q * n + i);
  note(q, n, "alltoall", r, &e0);
  r->errors += strata_comm_reduce_scatter(c, in, out, n, STRATA_DT_I32, STRATA_OP_SUM, k) != 0;
  for (size_t i = 0; i < n; i++) {
    int64_t sum = 0;
    for (uint32_t s = 0; s < p; s++) sum += in_i32(s, q * n + i);
    r->errors += out[i] != (int32_t)sum;
  }
  note(q, n, "reduce_scatter", r, &e0);
  r->errors += strata_comm_barrier(c, k) != 0;
  free(in);
  free(out);
}

/* scalars: domain, then sizes (elements), 0-terminated with a sentinel
 * UINT64_MAX; tensor 0 receives the result. */
static void k_coll(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 0));
  cres r = {1469598103934665603ull, c ? 0 : 1, c ? strata_comm_size(c) : 0,
            c ? strata_comm_rank(c) : 0};
  for (uint32_t s = 1; c && strata_kernel_scalar(k, s) != UINT64_MAX; s++) {
    size_t n = (size_t)strata_kernel_scalar(k, s);
    check_allreduce(c, n, &r, k);
    if (n <= (1u << 20)) check_exact(c, n, &r, k);
  }
  memcpy(strata_kernel_tensor(k, 0)->data, &r, sizeof(r));
}
static void o_coll(strata_orch *o, void *arg) { orch_one_kernel(o, K_COLL, arg); }
static void l_coll(strata_node_orch *o, void *arg) { /* every chip of this node */
  const strata_args *na = arg;
  for (uint32_t chip = 0; chip < strata_node_chips(strata_node_orch_node(o)); chip++) {
    strata_args a = *na;
    a.ndeps = 0;
    a.ntensors = 1;
    a.tensors[0] = na->tensors[chip];
    strata_node_submit_chip(o, chip, O_COLL, &a, NULL);
  }
}

static strata_node *l4_new(uint32_t chips, uint32_t task_timeout_ms) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_LEVEL | STRATA_NCFG_WORKERS | STRATA_NCFG_CHIPS |
                 STRATA_NCFG_TASK_TIMEOUT | STRATA_NCFG_DEVMEM;
  c.level = 4;
  c.workers = strata_mpi_size() > 1 ? (uint32_t)strata_mpi_size() : 2; /* one L3 per rank */
  c.chips = chips; /* per L3 */
  c.task_timeout_ms = task_timeout_ms;
  c.devmem_bytes = 1 << 20;
  c.chip = cfg_small();
  c.chip.stream_sync_timeout_ms = 0;
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), 0);
  assert_int_equal(strata_node_register_kernel(n, "add", k_add_f64, STRATA_CORE_AIV, &K_ADD), 0);
  assert_int_equal(strata_node_register_kernel(n, "sleep", k_sleep, STRATA_CORE_AIV, &K_SLEEP), 0);
  assert_int_equal(strata_node_register_orch(n, "add", o_add, &O_ADD), 0);
  assert_int_equal(strata_node_register_orch(n, "sleep", o_sleep, &O_SLEEP), 0);
  assert_int_equal(strata_node_register_level_orch(n, "add", l_add, &L_ADD), 0);
  assert_int_equal(strata_node_register_level_orch(n, "sleep", l_sleep, &L_SLEEP), 0);
  assert_int_equal(strata_node_register_kernel(n, "stamp", k_stamp, STRATA_CORE_AIV, &K_STAMP), 0);
  assert_int_equal(strata_node_register_orch(n, "stamp", o_stamp, &O_STAMP), 0);
  assert_int_equal(strata_node_register_level_orch(n, "stamp", l_stamp, &L_STAMP), 0);
  assert_int_equal(strata_node_register_kernel(n, "coll", k_coll, STRATA_CORE_AIV, &K_COLL), 0);
  assert_int_equal(strata_node_register_orch(n, "coll", o_coll, &O_COLL), 0);
  assert_int_equal(strata_node_register_level_orch(n, "coll", l_coll, &L_COLL), 0);
  return n;
}

static void init_ok(strata_node *n) {
  int rc = strata_node_init(n); /* ranks >= 1 serve and never return */
  if (rc) fprintf(stderr, "init: %s\n", strata_last_error());
  assert_int_equal(rc, 0);
}

static strata_tensor dev_f64(strata_node *n, uint32_t chip, size_t count, double fill) {
  void *p = NULL;
  int rc = strata_node_malloc(n, chip, count * 8, &p);
  if (rc) fprintf(stderr, "malloc: %s\n", strata_last_error());
  assert_int_equal(rc, 0);
  double *host = calloc(count, 8);
  for (size_t i = 0; i < count; i++) host[i] = fill;
  assert_int_equal(strata_node_copy_to(n, chip, p, host, count * 8), 0);
  free(host);
  return strata_tensor_external(p, count * 8, STRATA_DT_F64);
}


/* ---- tasks, groups, copies and dependencies across ranks ------------------------ */
#define HOP_MS 200

typedef struct hop {
  uint32_t workers;
  strata_tensor t[9], g[8];
} hop;

static void stamp_args(strata_args *a, strata_tensor *after, strata_tensor *out, uint32_t ms) {
  strata_args_init(a);
  strata_args_tensor(a, STRATA_INPUT, after);
  strata_args_tensor(a, STRATA_OUTPUT_EXISTING, out);
  strata_args_scalar(a, ms);
  strata_args_scalar(a, 0); /* chip 0 of the worker */
}

/* Hop w runs on worker w % workers after hop w - 1 (another rank): ordered
 * by tensor overlap alone. Then one group over every rank after the last. */
static void hop_orch(strata_node_orch *o, void *arg) {
  hop *h = arg;
  strata_args a[9];
  strata_node_member m[8];
  for (uint32_t w = 1; w <= h->workers; w++) {
    stamp_args(&a[w], &h->t[w - 1], &h->t[w], HOP_MS);
    int rc = strata_node_submit_child(o, w % h->workers, L_STAMP, &a[w], NULL);
    if (rc) fprintf(stderr, "submit: %s\n", strata_last_error());
    assert_int_equal(rc, 0);
  }
  for (uint32_t w = 0; w < h->workers; w++) {
    stamp_args(&a[w], &h->t[h->workers], &h->g[w], 0);
    m[w] = (strata_node_member){w, L_STAMP, &a[w]};
  }
  assert_int_equal(strata_node_submit_group(o, m, h->workers, NULL), 0);
}

static uint64_t read_u64(strata_node *n, uint32_t chip, const strata_tensor *t) {
  uint64_t v = 0;
  assert_int_equal(strata_node_copy_from(n, chip, &v, t->data, 8), 0);
  return v;
}

/* copy_to / copy_from of more than one mailbox blob on every rank's chips. */
static void copies_round_trip(strata_node *n) {
  for (uint32_t chip = 0; chip < strata_node_chips(n); chip++) {
    strata_tensor t = dev_f64(n, chip, 20000, 0.5 + chip);
    double *back = calloc(20000, 8);
    assert_int_equal(strata_node_copy_from(n, chip, back, t.data, 20000 * 8), 0);
    for (size_t i = 0; i < 20000; i++) assert_true(back[i] == 0.5 + chip);
    free(back);
    assert_int_equal(strata_node_free(n, chip, t.data), 0);
  }
}

STRATA_TEST(l4_runs_tasks_groups_and_copies_across_ranks) {
  (void)state;
  strata_node *n = l4_new(2, 20000);
  init_ok(n);
  hop h = {.workers = strata_node_chips(n) / 2};
  assert_true(h.workers >= 2 && h.workers <= 8);
  copies_round_trip(n);
  for (uint32_t w = 0; w <= h.workers; w++) h.t[w] = dev_f64(n, (w % h.workers) * 2, 1, 0);
  for (uint32_t w = 0; w < h.workers; w++) h.g[w] = dev_f64(n, w * 2, 1, 0);
  strata_node_run_info info;
  int rc = strata_node_run(n, hop_orch, &h, &info);
  if (rc) fprintf(stderr, "run: %s\n", info.message);
  assert_int_equal(rc, 0);
  assert_int_equal(info.tasks_completed, h.workers + 1);
  uint64_t prev = 0;
  for (uint32_t w = 1; w <= h.workers; w++) { /* each hop began after the one before ended */
    uint64_t s = read_u64(n, (w % h.workers) * 2, &h.t[w]);
    assert_true(s >= prev + (uint64_t)HOP_MS * 900000);
    prev = s;
  }
  for (uint32_t w = 0; w < h.workers; w++) assert_true(read_u64(n, w * 2, &h.g[w]) > prev);
  assert_int_equal(strata_node_close(n), 0);
}

/* A level orchestration registered after init, by pointer: it travels to the
 * other ranks by its symbol name (the program exports its symbols). */
void test_mpi_late_add(strata_node_orch *o, void *arg);
void test_mpi_late_add(strata_node_orch *o, void *arg) { level_forward(o, O_ADD, arg); }

static void late_orch(strata_node_orch *o, void *arg) {
  strata_args *a = arg;
  uint32_t last = strata_node_chips(strata_node_orch_node(o)) / 2 - 1, id = (uint32_t)a->scalars[2];
  assert_int_equal(strata_node_submit_child(o, last, id, a, NULL), 0);
}

STRATA_TEST(l4_callable_registered_after_init_runs_on_every_rank) {
  (void)state;
  strata_node *n = l4_new(2, 20000);
  init_ok(n);
  uint32_t id = 0, last_chip = strata_node_chips(n) - 2; /* the last worker's chip 0 */
  assert_int_equal(strata_node_register_level_orch(n, "late", test_mpi_late_add, &id), 0);
  strata_tensor x = dev_f64(n, last_chip, 16, 2.5), y = dev_f64(n, last_chip, 16, 0);
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, &x);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &y);
  strata_args_scalar_f64(&a, 4.0);
  strata_args_scalar(&a, 0);  /* chip 0 of the worker */
  strata_args_scalar(&a, id); /* for late_orch */
  strata_node_run_info info;
  int rc = strata_node_run(n, late_orch, &a, &info);
  if (rc) fprintf(stderr, "run: %s\n", info.message);
  assert_int_equal(rc, 0);
  double v[16];
  assert_int_equal(strata_node_copy_from(n, last_chip, v, y.data, sizeof(v)), 0);
  for (int i = 0; i < 16; i++) assert_true(v[i] == 6.5);
  assert_int_equal(strata_node_close(n), 0);
}

/* STRATA_TEST_CHIPS chips per rank (default 2), STRATA_TEST_SIZES (default
 * "0,1,17,65537"): every collective over every chip of every rank, each
 * result checked on its chip and hashed; the hashes are equal everywhere. */
static uint64_t env_num(const char *name, uint64_t def) {
  const char *s = getenv(name);
  return s && *s ? strtoull(s, NULL, 10) : def;
}

static void coll_group(strata_node_orch *o, void *arg) {
  strata_args *a = arg; /* one per worker */
  uint32_t workers = strata_node_chips(strata_node_orch_node(o)) / (uint32_t)a[0].scalars[9];
  strata_node_member m[8];
  for (uint32_t w = 0; w < workers; w++) m[w] = (strata_node_member){w, L_COLL, &a[w]};
  assert_int_equal(strata_node_submit_group(o, m, workers, NULL), 0);
}

STRATA_TEST(l4_domain_collectives_match_bitwise_across_ranks) {
  (void)state;
  uint32_t chips = (uint32_t)env_num("STRATA_TEST_CHIPS", 2);
  if (strata_mpi_size() < 2) exit(77); /* across ranks: under mpirun (tests/mpi_run.sh) */
  strata_node *n = l4_new(chips, 120000);
  init_ok(n);
  uint32_t total = strata_node_chips(n), workers = total / chips, members[64], d = 0;
  for (uint32_t q = 0; q < total; q++) members[q] = q; /* domain rank q = tree chip q */
  size_t window = (size_t)env_num("STRATA_TEST_WINDOW", 1 << 20);
  int rc = strata_node_domain_create(n, members, total, window, &d);
  if (rc) fprintf(stderr, "domain: %s\n", strata_last_error());
  assert_int_equal(rc, 0);
  strata_tensor res[64];
  strata_args a[8];
  for (uint32_t q = 0; q < total; q++) res[q] = dev_f64(n, q, 4, 0);
  const char *sizes = getenv("STRATA_TEST_SIZES");
  for (uint32_t w = 0; w < workers; w++) {
    strata_args_init(&a[w]);
    for (uint32_t i = 0; i < chips; i++) strata_args_tensor(&a[w], STRATA_OUTPUT_EXISTING, &res[w * chips + i]);
    strata_args_scalar(&a[w], d);
    const char *p = sizes && *sizes ? sizes : "0,1,17,65537";
    uint32_t ns = 0;
    for (; *p && ns < 7; ns++, p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) 
      strata_args_scalar(&a[w], strtoull(p, NULL, 10));
    strata_args_scalar(&a[w], UINT64_MAX);
    while (a[w].nscalars < 9) strata_args_scalar(&a[w], 0);
    strata_args_scalar(&a[w], chips); /* scalar 9 */
  }
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  rc = strata_node_run(n, coll_group, a, &info);
  if (rc) fprintf(stderr, "run: %s\n", info.message);
  assert_int_equal(rc, 0);
  /* a slowed gateway (STRATA_FAULT_GW_DELAY_MS): the run outlasted the budget */
  assert_true(ms_since(t0) >= env_num("STRATA_TEST_MIN_MS", 0));
  cres r0 = {0, 0, 0, 0};
  for (uint32_t q = 0; q < total; q++) {
    cres r;
    assert_int_equal(strata_node_copy_from(n, q, &r, res[q].data, sizeof(r)), 0);
    if (q == 0) r0 = r;
    if (r.errors || r.hash != r0.hash)
      fprintf(stderr, "chip %u: %llu errors, hash %llx (chip 0: %llx)\n", q,
              (unsigned long long)r.errors, (unsigned long long)r.hash, (unsigned long long)r0.hash);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.size, total); /* the kernel ran, on a domain of every chip */
    assert_int_equal(r.rank, q);
    assert_true(r.hash == r0.hash && r.hash != 0);
  }
  assert_int_equal(strata_node_domain_release(n, d), 0);
  assert_int_equal(strata_node_close(n), 0);
}

/* Without mpirun the nodes are forked on this machine: no gateways, and the
 * error says how to get them. */
STRATA_TEST(l4_domain_over_forked_nodes_needs_mpirun) {
  (void)state;
  if (strata_mpi_size() > 1) exit(77);
  strata_node *n = l4_new(2, 20000);
  init_ok(n);
  uint32_t chips[4] = {0, 1, 2, 3}, d = 0;
  assert_int_equal(strata_node_domain_create(n, chips, 4, 1 << 16, &d), STRATA_ENOSYS);
  assert_non_null(strstr(strata_last_error(), "mpirun"));
  assert_int_equal(strata_node_domain_create(n, chips, 0, 1 << 16, &d), STRATA_EINVAL);
  assert_int_equal(strata_node_domain_create(n, chips, 4, 0, &d), STRATA_EINVAL); /* no window */
  chips[3] = 9;
  assert_int_equal(strata_node_domain_create(n, chips, 4, 1 << 16, &d), STRATA_EINVAL);
  assert_non_null(strstr(strata_last_error(), "chip 9"));
  assert_int_equal(strata_node_close(n), 0);
}

/* One startup deadline over every rank's subtree: a chip of the last rank
 * that initialises too slowly (STRATA_FAULT_INIT_DELAY_MS, set for every rank
 * by the test) fails init naming that rank, within the deadline. */
STRATA_TEST(l4_startup_deadline_names_the_late_rank) {
  (void)state;
  if (strata_mpi_size() < 2 || !getenv("STRATA_FAULT_INIT_DELAY_MS")) exit(77);
  strata_node *n = l4_new(2, 20000);
  uint64_t t0 = now_ns();
  int rc = strata_node_init(n);
  fprintf(stderr, "init after %llu ms: %s\n", (unsigned long long)ms_since(t0), strata_last_error());
  assert_int_not_equal(rc, 0);
  assert_true(ms_since(t0) < 8000); /* the 1.5 s deadline, not the 20 s delay */
  char want[32];
  snprintf(want, sizeof(want), "rank %d", strata_mpi_size() - 1);
  assert_non_null(strstr(strata_last_error(), want));
  strata_node_close(n);
  fprintf(stderr, "fault test ok: %s\n", strata_last_error());
}

/* A rank that registered other callables than rank 0 would run other
 * functions under the same ids: init fails, naming it. */
static void l_nop(strata_node_orch *o, void *arg) { (void)o, (void)arg; }

STRATA_TEST(l4_ranks_with_other_callables_fail_init) {
  (void)state;
  if (strata_mpi_size() < 2) exit(77);
  strata_node *n = l4_new(1, 20000);
  uint32_t id;
  if (strata_mpi_rank() == 1)
    assert_int_equal(strata_node_register_level_orch(n, "only_here", l_nop, &id), 0);
  int rc = strata_node_init(n);
  assert_int_equal(rc, STRATA_CHILD_INIT_FAILED);
  assert_non_null(strstr(strata_last_error(), "rank 1 registered other callables"));
  strata_node_close(n);
}

/* ---- failures name the rank ----------------------------------------------------- */
/* Worker w sleeps ms on one chip (t[w]: a stand-in tensor on its node). */
static void sleep_on(strata_node_orch *o, const strata_tensor *t, uint32_t w, uint64_t ms) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_NO_DEP, &t[w]);
  strata_args_scalar(&a, ms);
  strata_args_scalar(&a, 1);
  strata_node_submit_child(o, w, L_SLEEP, &a, NULL);
}

static void sleep_everywhere(strata_node_orch *o, void *arg) {
  uint32_t workers = strata_node_chips(strata_node_orch_node(o)) / 2;
  for (uint32_t w = 0; w < workers; w++)
    sleep_on(o, arg, w, 20000); /* ms: longer than the test lets it run */
}

/* Under mpirun with STRATA_FAULT_MPI=<kill|chip|stop|l3stop>:<last rank>:<ms>
 * (see src/mpi/relay.c): the run of orch under a task deadline of
 * timeout_ms fails within 15 s, naming the rank and `expect`. */
static void fault_run_with(strata_node_orch_fn orch, uint32_t timeout_ms, const char *expect) {
  if (strata_mpi_size() < 2 || !getenv("STRATA_FAULT_MPI")) exit(77); /* needs mpirun and a fault */
  strata_node *n = l4_new(2, timeout_ms);
  init_ok(n);
  uint32_t workers = strata_node_chips(n) / 2;
  strata_tensor t[8];
  for (uint32_t w = 0; w < workers; w++) t[w] = dev_f64(n, w * 2, 1, 0);
  uint64_t t0 = now_ns();
  strata_node_run_info info;
  int rc = strata_node_run(n, orch, t, &info);
  fprintf(stderr, "run ended after %llu ms: %s\n", (unsigned long long)ms_since(t0), info.message);
  assert_int_not_equal(rc, 0);
  assert_true(ms_since(t0) < 15000); /* the peer or task deadline, not the 20 s tasks */
  char want[32];
  snprintf(want, sizeof(want), "rank %u", workers - 1);
  assert_non_null(strstr(info.message, want));
  assert_non_null(strstr(info.message, expect));
  strata_node_close(n);
  fprintf(stderr, "fault test ok: %s\n", info.message);
}

static void fault_run(const char *expect) { fault_run_with(sleep_everywhere, 60000, expect); }

STRATA_TEST(l4_kill_of_a_rank_ends_the_run_naming_it) {
  (void)state;
  fault_run("lost");
}

STRATA_TEST(l4_kill_of_a_chip_on_another_rank_ends_the_run_naming_it) {
  (void)state;
  uint64_t t0 = now_ns();
  fault_run("chip 1");
  assert_true(ms_since(t0) < 8000); /* the job ends: the other ranks' 20 s tasks do not drain */
}

/* STRATA_FAULT_MPI=l3stop:<last rank>:<ms>: the L3 worker the last rank
 * hosts is stopped mid-task; rank 0 warns at once, and the task deadline
 * names it as stopped (the rank's own process saw the stop), not as slow. */
static void sleep_on_last(strata_node_orch *o, void *arg) {
  uint32_t w = strata_node_chips(strata_node_orch_node(o)) / 2 - 1;
  sleep_on(o, arg, w, 2500); /* ms: done by itself well before the deadline */
}

STRATA_TEST(l4_stopped_l3_worker_is_named_as_stopped) {
  (void)state;
  fault_run_with(sleep_on_last, 4000, "is stopped");
}

STRATA_TEST(l4_stopped_rank_ends_the_run_naming_it) {
  (void)state;
  uint64_t t0 = now_ns();
  fault_run("sent nothing");
  assert_true(ms_since(t0) < 9000); /* the 3 s peer deadline ends the job: no draining */
}

STRATA_TEST_MAIN(TEST_LIST)

/* test_node.c - the L3 node worker: process tree and mailboxes, the
 * INIT_DONE barrier (failure, crash, deadline, slow peer), controls,
 * cross-chip dependencies, groups, subs, scopes, poisoning, and kill -9 of
 * a child mid-task and mid-control. Every test checks that close() leaves
 * no process and no /dev/shm entry. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "test_node_list.h"

static uint32_t K_SCALE, K_SLEEP, K_FAIL, K_STAMP;
static uint32_t O_STAGE, O_SLEEP, O_FAIL, O_STAMP;
static uint32_t S_VERIFY, S_PID, S_HANG;

/* ---- kernels and chip orchestrations (registered before fork) ---------------- */
static void k_scale(strata_kernel_ctx *k) { /* y = x * s0 + s1 */
  const strata_tensor *x = strata_kernel_tensor(k, 0), *y = strata_kernel_tensor(k, 1);
  const double *in = x->data;
  double *out = y->data, a = strata_kernel_scalar_f64(k, 0), b = strata_kernel_scalar_f64(k, 1);
  for (size_t i = 0; i < y->bytes / sizeof(double); i++) out[i] = in[i] * a + b;
}

static void k_failing(strata_kernel_ctx *k) { strata_kernel_fail(k, "stage exploded"); }

static void k_stamp(strata_kernel_ctx *k) { /* t[0] = start, t[1] = end (monotonic ns) */
  uint64_t *t = strata_kernel_tensor(k, 0)->data;
  t[0] = now_ns();
  k_sleep(k);
  t[1] = now_ns();
}

/* Chip orchestration: one kernel over the node task's own arguments. */
static void run_kernel(strata_orch *o, uint32_t kernel, const strata_args *na) {
  strata_args a = *na;
  a.ndeps = 0;
  strata_orch_submit(o, kernel, &a, NULL);
}
static void o_stage(strata_orch *o, void *arg) { run_kernel(o, K_SCALE, arg); }
static void o_sleep(strata_orch *o, void *arg) { run_kernel(o, K_SLEEP, arg); }
static void o_fail(strata_orch *o, void *arg) { run_kernel(o, K_FAIL, arg); }
static void o_stamp(strata_orch *o, void *arg) { run_kernel(o, K_STAMP, arg); }

static int s_verify(const strata_args *a, char *msg, size_t len) { /* x[i] == s0 * i + s1 */
  const double *x = a->tensors[0].data;
  double m, b;
  memcpy(&m, &a->scalars[0], sizeof(m));
  memcpy(&b, &a->scalars[1], sizeof(b));
  for (size_t i = 0; i < a->tensors[0].bytes / sizeof(double); i++)
    if (x[i] != m * (double)i + b) return snprintf(msg, len, "x[%zu] = %g", i, x[i]), STRATA_EINVAL;
  return 0;
}

static int s_hang(const strata_args *a, char *msg, size_t len) { /* outlives any test */
  (void)a;
  (void)msg;
  (void)len;
  sleep_ms(600000);
  return 0;
}

static int s_pid(const strata_args *a, char *msg, size_t len) { /* record who ran, slowly */
  (void)msg;
  (void)len;
  *(int64_t *)a->tensors[0].data = getpid();
  sleep_ms(100);
  return 0;
}

/* ---- helpers --------------------------------------------------------------------- */
static strata_node *node_new(uint32_t chips, uint32_t subs, uint32_t task_timeout_ms) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_SUBS | STRATA_NCFG_TASK_TIMEOUT | STRATA_NCFG_DEVMEM;
  c.chips = chips;
  c.subs = subs;
  c.task_timeout_ms = task_timeout_ms;
  c.devmem_bytes = 1 << 20;
  c.chip = cfg_small();
  c.chip.stream_sync_timeout_ms = 0; /* none: the node's task deadline is the bound */
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), 0);
  assert_int_equal(strata_node_register_kernel(n, "scale", k_scale, STRATA_CORE_AIV, &K_SCALE), 0);
  assert_int_equal(strata_node_register_kernel(n, "sleep", k_sleep, STRATA_CORE_AIV, &K_SLEEP), 0);
  assert_int_equal(strata_node_register_kernel(n, "failing", k_failing, STRATA_CORE_AIV, &K_FAIL), 0);
  assert_int_equal(strata_node_register_kernel(n, "stamp", k_stamp, STRATA_CORE_AIV, &K_STAMP), 0);
  assert_int_equal(strata_node_register_orch(n, "stage", o_stage, &O_STAGE), 0);
  assert_int_equal(strata_node_register_orch(n, "sleep", o_sleep, &O_SLEEP), 0);
  assert_int_equal(strata_node_register_orch(n, "fail", o_fail, &O_FAIL), 0);
  assert_int_equal(strata_node_register_orch(n, "stamp", o_stamp, &O_STAMP), 0);
  assert_int_equal(strata_node_register_sub(n, "verify", s_verify, &S_VERIFY), 0);
  assert_int_equal(strata_node_register_sub(n, "pid", s_pid, &S_PID), 0);
  assert_int_equal(strata_node_register_sub(n, "hang", s_hang, &S_HANG), 0);
  return n;
}

static int init_expect(strata_node *n, int want) {
  int rc = strata_node_init(n);
  if (rc != want) fprintf(stderr, "init: %s: %s\n", strata_err_name(rc), strata_last_error());
  assert_int_equal(rc, want);
  return rc;
}

/* close() must leave neither processes nor /dev/shm entries. */
static void close_clean(strata_node *n) {
  pid_t pids[STRATA_NODE_MAX_CHILDREN];
  uint32_t np = 0;
  for (uint32_t k = 0; k < 2; k++)
    for (uint32_t i = 0; i < STRATA_NODE_MAX_CHILDREN; i++) {
      pid_t p = strata_node_child_pid(n, (strata_child_kind)k, i);
      if (p > 0) pids[np++] = p;
    }
  assert_int_equal(strata_node_close(n), 0);
  for (uint32_t i = 0; i < np; i++) assert_int_equal(waitpid(pids[i], NULL, WNOHANG), -1);
  assert_int_equal(shm_strata_entries(), 0);
}

static double *dev_f64(strata_node *n, uint32_t chip, size_t count, strata_tensor *t) {
  void *p = NULL;
  assert_int_equal(strata_node_malloc(n, chip, count * sizeof(double), &p), 0);
  *t = strata_tensor_external(p, count * sizeof(double), STRATA_DT_F64);
  return p;
}

/* ---- lifecycle and barrier -------------------------------------------------------- */
STRATA_TEST(init_and_close_leave_nothing_behind) {
  (void)state;
  strata_node *n = node_new(2, 1, 10000);
  init_expect(n, 0);
  for (uint32_t i = 0; i < 2; i++) assert_int_equal(kill(strata_node_child_pid(n, STRATA_CHILD_CHIP, i), 0), 0);
  assert_int_equal(kill(strata_node_child_pid(n, STRATA_CHILD_SUB, 0), 0), 0);
  assert_int_equal(strata_node_child_pid(n, STRATA_CHILD_SUB, 1), -1);
  close_clean(n);
}

/* A name a killed tree left in /dev/shm (its process is gone) is unlinked by
 * the next root's init; a live process's name is not touched. */
static int shm_exists(const char *name) {
  int fd = shm_open(name, O_RDONLY, 0);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

STRATA_TEST(init_sweeps_names_of_dead_processes) {
  (void)state;
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  char stale[64], live[64];
  snprintf(stale, sizeof(stale), "/strata-%d-0-dom0", (int)dead);
  snprintf(live, sizeof(live), "/strata-%d-999-keep", (int)getpid());
  for (int i = 0; i < 2; i++) close(shm_open(i ? live : stale, O_CREAT | O_RDWR, 0600));
  setenv("STRATA_SHM_SWEEP", "1", 1); /* the suite turns it off for its leak checks */
  strata_node *n = node_new(1, 0, 10000);
  init_expect(n, 0);
  assert_false(shm_exists(stale));
  assert_true(shm_exists(live));
  shm_unlink(live);
  close_clean(n);
}

STRATA_TEST(init_failure_names_the_child_and_tears_down) {
  (void)state;
  setenv("STRATA_FAULT_INIT_FAIL", "1", 1);
  strata_node *n = node_new(3, 1, 10000);
  init_expect(n, STRATA_CHILD_INIT_FAILED);
  assert_non_null(strstr(strata_last_error(), "chip 1"));
  assert_non_null(strstr(strata_last_error(), "injected init failure"));
  assert_int_equal(shm_strata_entries(), 0);
  close_clean(n);
  unsetenv("STRATA_FAULT_INIT_FAIL");
}

STRATA_TEST(child_killed_during_init_is_reported) {
  (void)state;
  setenv("STRATA_FAULT_INIT_CRASH", "2", 1);
  strata_node *n = node_new(3, 0, 10000);
  init_expect(n, STRATA_ENDPOINT_FAILURE);
  assert_non_null(strstr(strata_last_error(), "chip 2"));
  assert_non_null(strstr(strata_last_error(), "signal 9"));
  assert_non_null(strstr(strata_last_error(), "during init"));
  close_clean(n);
  unsetenv("STRATA_FAULT_INIT_CRASH");
}

STRATA_TEST(startup_deadline_names_late_children) {
  (void)state;
  setenv("STRATA_FAULT_INIT_DELAY_MS", "1:20000", 1);
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_STARTUP_TIMEOUT;
  c.chips = 2;
  c.startup_timeout_ms = 400;
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), 0);
  uint64_t t0 = now_ns();
  init_expect(n, STRATA_ETIMEDOUT);
  assert_true(ms_since(t0) < 5000);
  assert_non_null(strstr(strata_last_error(), "not ready: chip 1"));
  close_clean(n);
  unsetenv("STRATA_FAULT_INIT_DELAY_MS");
}

STRATA_TEST(slow_peer_delays_the_barrier_not_the_result) {
  (void)state;
  setenv("STRATA_FAULT_INIT_DELAY_MS", "1:300", 1);
  strata_node *n = node_new(2, 0, 10000);
  uint64_t t0 = now_ns();
  init_expect(n, 0);
  assert_true(ms_since(t0) >= 300); /* init returns only once every child is ready */
  close_clean(n);
  unsetenv("STRATA_FAULT_INIT_DELAY_MS");
}

static uint32_t delay_of(uint32_t rank) {
  uint32_t ms = 0;
  assert_int_equal(strata_fault_init_delay_parse(getenv("STRATA_FAULT_INIT_DELAY_MS"), rank, &ms), 0);
  return ms;
}

STRATA_TEST(longtail_fault_is_deterministic_and_bounded) {
  (void)state;
  setenv("STRATA_FAULT_INIT_DELAY_MS", "longtail:1000:7", 1);
  uint32_t big = 0;
  for (uint32_t r = 0; r < 64; r++) {
    uint32_t d = delay_of(r);
    assert_true(d <= 1000);
    assert_int_equal(d, delay_of(r));
    big += d > 500;
  }
  assert_true(big > 0 && big < 32); /* a tail, not the bulk */
  setenv("STRATA_FAULT_INIT_DELAY_MS", "tail:1:1000:5", 1); /* one slow rank */
  assert_int_equal(delay_of(0), 0);
  uint32_t t = delay_of(1);
  assert_true(t > 0 && t == delay_of(1));
  uint32_t above = 0;
  for (uint32_t seed = 1; seed <= 200; seed++) {
    char v[48];
    snprintf(v, sizeof(v), "tail:0:1000:%u", seed);
    setenv("STRATA_FAULT_INIT_DELAY_MS", v, 1);
    above += delay_of(0) > 1000;
  }
  assert_true(above > 70 && above < 130); /* the median is the median */
  setenv("STRATA_FAULT_INIT_DELAY_MS", "3:250,*:10", 1);
  assert_int_equal(delay_of(3), 250);
  assert_int_equal(delay_of(0), 10);
  unsetenv("STRATA_FAULT_INIT_DELAY_MS");
}

/* ---- controls -------------------------------------------------------------------------- */
STRATA_TEST(device_memory_controls_round_trip) {
  (void)state;
  strata_node *n = node_new(2, 0, 10000);
  init_expect(n, 0);
  size_t bytes = 200000; /* several mailbox blobs */
  unsigned char *src = malloc(bytes), *dst = calloc(1, bytes);
  for (size_t i = 0; i < bytes; i++) src[i] = (unsigned char)(i * 7 + 3);
  void *dev = NULL;
  assert_int_equal(strata_node_malloc(n, 1, bytes, &dev), 0);
  assert_int_equal(strata_node_copy_to(n, 1, dev, src, bytes), 0);
  assert_int_equal(strata_node_copy_from(n, 1, dst, dev, bytes), 0);
  assert_memory_equal(src, dst, bytes);
  assert_int_equal(strata_node_free(n, 1, dev), 0);
  assert_int_equal(strata_node_free(n, 1, dev), STRATA_EINVAL);
  assert_non_null(strstr(strata_last_error(), "not an allocation"));
  assert_int_equal(strata_node_malloc(n, 0, 2 << 20, &dev), STRATA_ENOMEM);
  assert_non_null(strstr(strata_last_error(), "STRATA_NODE_DEVMEM"));
  assert_int_equal(strata_node_malloc(n, 5, 64, &dev), STRATA_EINVAL);
  free(src);
  free(dst);
  close_clean(n);
}

/* ---- node orchestration ------------------------------------------------------------------- */
typedef struct pipe_job {
  strata_tensor x[5];
  double *host;
} pipe_job;

static void stage_args(strata_args *a, const strata_tensor *in, const strata_tensor *out, double m,
                       double b) {
  strata_args_init(a);
  strata_args_tensor(a, STRATA_INPUT, in);
  strata_args_tensor(a, STRATA_OUTPUT_EXISTING, out);
  strata_args_scalar_f64(a, m);
  strata_args_scalar_f64(a, b);
}

static void pipeline_orch(strata_node_orch *o, void *arg) {
  pipe_job *j = arg;
  strata_args a;
  for (uint32_t k = 0; k < 4; k++) { /* x[k+1] = 2 x[k] + k on chip k */
    stage_args(&a, &j->x[k], &j->x[k + 1], 2.0, (double)k);
    assert_int_equal(strata_node_submit_chip(o, k, O_STAGE, &a, NULL), 0);
  }
  strata_args_init(&a); /* x4 = 16 i + 11 */
  strata_args_tensor(&a, STRATA_INPUT, &j->x[4]);
  strata_args_scalar_f64(&a, 16.0);
  strata_args_scalar_f64(&a, 11.0);
  assert_int_equal(strata_node_submit_sub(o, S_VERIFY, &a, NULL), 0);
}

STRATA_TEST(pipeline_across_chips_is_verified_by_a_sub) {
  (void)state;
  strata_node *n = node_new(4, 1, 10000);
  init_expect(n, 0);
  pipe_job j;
  double init[256];
  for (int i = 0; i < 256; i++) init[i] = i;
  for (uint32_t k = 0; k < 5; k++) dev_f64(n, k % 4, 256, &j.x[k]);
  assert_int_equal(strata_node_copy_to(n, 0, j.x[0].data, init, sizeof(init)), 0);
  strata_node_run_info info;
  int rc = strata_node_run(n, pipeline_orch, &j, &info);
  if (rc) fprintf(stderr, "%s\n", info.message);
  assert_int_equal(rc, 0);
  assert_int_equal(info.tasks_completed, 5);
  double out[256];
  assert_int_equal(strata_node_copy_from(n, 0, out, j.x[4].data, sizeof(out)), 0);
  for (int i = 0; i < 256; i++) assert_true(out[i] == 16.0 * i + 11.0);
  close_clean(n);
}

static strata_tensor stamps[3];

static void group_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a0, a1, a2;
  strata_args_init(&a0); /* a long task on chip 1 */
  strata_args_tensor(&a0, STRATA_OUTPUT_EXISTING, &stamps[0]);
  strata_args_scalar(&a0, 300);
  assert_int_equal(strata_node_submit_chip(o, 1, O_STAMP, &a0, NULL), 0);
  strata_args_init(&a1); /* group member on idle chip 0, independent data */
  strata_args_tensor(&a1, STRATA_OUTPUT_EXISTING, &stamps[1]);
  strata_args_scalar(&a1, 0);
  strata_args_init(&a2);
  strata_args_tensor(&a2, STRATA_OUTPUT_EXISTING, &stamps[2]);
  strata_args_scalar(&a2, 0);
  strata_node_member m[2] = {{0, O_STAMP, &a1}, {1, O_STAMP, &a2}};
  assert_int_equal(strata_node_submit_group(o, m, 2, NULL), 0);
}

STRATA_TEST(group_is_dispatched_all_or_nothing) {
  (void)state;
  strata_node *n = node_new(2, 0, 10000);
  init_expect(n, 0);
  for (int i = 0; i < 3; i++) {
    void *p;
    assert_int_equal(strata_node_malloc(n, (uint32_t)i % 2, 16, &p), 0);
    stamps[i] = strata_tensor_external(p, 16, STRATA_DT_I64);
  }
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, group_orch, NULL, &info), 0);
  uint64_t *t0 = stamps[0].data, *t1 = stamps[1].data, *t2 = stamps[2].data;
  assert_true(t1[0] >= t0[1]); /* chip 0's member waited for chip 1 to be free */
  assert_true(t2[0] >= t0[1]);
  close_clean(n);
}

static strata_tensor fa, fb, fc;

static void poison_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &fa);
  strata_node_submit_chip(o, 0, O_FAIL, &a, NULL);
  stage_args(&a, &fa, &fb, 1.0, 0.0); /* depends on the failure: poisoned */
  strata_node_submit_chip(o, 1, O_STAGE, &a, NULL);
  stage_args(&a, &fb, &fb, 1.0, 0.0); /* transitively poisoned */
  strata_node_submit_chip(o, 1, O_STAGE, &a, NULL);
  stage_args(&a, &fc, &fc, 1.0, 5.0); /* independent: runs */
  strata_node_submit_chip(o, 1, O_STAGE, &a, NULL);
}

STRATA_TEST(failed_task_poisons_dependents_and_first_error_wins) {
  (void)state;
  strata_node *n = node_new(2, 0, 10000);
  init_expect(n, 0);
  double *b = dev_f64(n, 1, 4, &fb), *cv = dev_f64(n, 1, 4, &fc);
  dev_f64(n, 0, 4, &fa);
  b[0] = -1;
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, poison_orch, NULL, &info), STRATA_TASK_FAILED);
  assert_int_equal(info.tasks_failed, 1);
  assert_int_equal(info.tasks_poisoned, 2);
  assert_int_equal(info.tasks_completed, 4);
  assert_non_null(strstr(info.message, "chip 0"));
  assert_non_null(strstr(info.message, "stage exploded"));
  assert_true(b[0] == -1); /* never ran */
  assert_true(cv[0] == 5.0);
  close_clean(n);
}

/* ---- the task window (SPEC §3.1): retirement and back-pressure --------------------- */
typedef struct chain_job {
  strata_tensor x;
  uint32_t n;
} chain_job;

static void chain_orch(strata_node_orch *o, void *arg) { /* x = x + 1, n times, chips alternating */
  chain_job *j = arg;
  for (uint32_t i = 0; i < j->n; i++) {
    strata_args a;
    stage_args(&a, &j->x, &j->x, 1.0, 1.0);
    if (strata_node_submit_chip(o, i & 1, O_STAGE, &a, NULL)) return;
  }
}

static long max_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* A window of 64 tasks: 8000 node tasks run through it (back-pressure on
 * submit), finished ones retire while the run goes on, so the peak memory
 * of 8000 tasks is that of 500 (a record used to hold 24 KB until the
 * run ended: 180 MB more). */
STRATA_TEST(window_retires_finished_tasks_and_bounds_memory) {
  (void)state;
  setenv("STRATA_NODE_TASK_WINDOW", "64", 1);
  strata_node *n = node_new(2, 0, 30000);
  init_expect(n, 0);
  chain_job j = {{0}, 500};
  double *x = dev_f64(n, 0, 4, &j.x);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, chain_orch, &j, &info), 0);
  long small = max_rss_kb();
  j.n = 8000;
  assert_int_equal(strata_node_run(n, chain_orch, &j, &info), 0);
  assert_int_equal(info.tasks_completed, 8000);
  assert_true(x[0] == 8500.0 && x[3] == 8500.0);
  long big = max_rss_kb();
  if (big - small >= 64 * 1024) fprintf(stderr, "peak RSS %ld KB -> %ld KB\n", small, big);
  assert_true(big - small < 64 * 1024);
  close_clean(n);
}

static strata_tensor wf, wg, wh;

/* Task 1 fails; 40 tasks later it has retired; a consumer of its output and
 * a task naming it as an explicit dependency are still poisoned. */
static void retired_failure_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_task_ref failed;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &wf);
  assert_int_equal(strata_node_submit_chip(o, 0, O_FAIL, &a, &failed), 0);
  for (int i = 0; i < 40; i++) {
    stage_args(&a, &wg, &wg, 1.0, 1.0);
    assert_int_equal(strata_node_submit_chip(o, 1, O_STAGE, &a, NULL), 0);
  }
  stage_args(&a, &wf, &wh, 1.0, 0.0); /* reads the failed task's output */
  assert_int_equal(strata_node_submit_chip(o, 1, O_STAGE, &a, NULL), 0);
  stage_args(&a, &wg, &wg, 1.0, 1.0);
  a.deps[a.ndeps++] = failed; /* names the failed task */
  assert_int_equal(strata_node_submit_chip(o, 1, O_STAGE, &a, NULL), 0);
}

STRATA_TEST(retired_failed_task_still_poisons_late_consumers) {
  (void)state;
  setenv("STRATA_NODE_TASK_WINDOW", "16", 1);
  strata_node *n = node_new(2, 0, 30000);
  init_expect(n, 0);
  dev_f64(n, 0, 4, &wf);
  double *g = dev_f64(n, 1, 4, &wg), *h = dev_f64(n, 1, 4, &wh);
  h[0] = -1;
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, retired_failure_orch, NULL, &info), STRATA_TASK_FAILED);
  assert_int_equal(info.tasks_submitted, 43);
  assert_int_equal(info.tasks_completed, 43);
  assert_int_equal(info.tasks_failed, 1);
  assert_int_equal(info.tasks_poisoned, 2);
  assert_true(g[0] == 40.0); /* the independent chain ran, the poisoned one did not */
  assert_true(h[0] == -1.0);
  close_clean(n);
}

static strata_tensor pid_slots[4];

static void subs_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  for (int i = 0; i < 4; i++) {
    strata_args a;
    strata_args_init(&a);
    strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &pid_slots[i]);
    assert_int_equal(strata_node_submit_sub(o, S_PID, &a, NULL), 0);
  }
}

STRATA_TEST(sub_tasks_go_to_any_idle_sub) {
  (void)state;
  strata_node *n = node_new(1, 2, 10000);
  init_expect(n, 0);
  for (int i = 0; i < 4; i++) {
    void *p;
    assert_int_equal(strata_node_malloc(n, 0, 8, &p), 0);
    pid_slots[i] = strata_tensor_external(p, 8, STRATA_DT_I64);
  }
  assert_int_equal(strata_node_run(n, subs_orch, NULL, NULL), 0);
  pid_t s0 = strata_node_child_pid(n, STRATA_CHILD_SUB, 0), s1 = strata_node_child_pid(n, STRATA_CHILD_SUB, 1);
  int used0 = 0, used1 = 0;
  for (int i = 0; i < 4; i++) {
    int64_t p = *(int64_t *)pid_slots[i].data;
    assert_true(p == s0 || p == s1);
    used0 += p == s0;
    used1 += p == s1;
  }
  assert_true(used0 > 0 && used1 > 0);
  close_clean(n);
}

static void scoped_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  for (int round = 0; round < 5; round++) { /* 600 KiB of a 1 MiB chip each round */
    assert_int_equal(strata_node_scope_begin(o), 0);
    strata_tensor x, y;
    assert_int_equal(strata_node_orch_alloc(o, 0, 300 << 10, STRATA_DT_F64, &x), 0);
    assert_int_equal(strata_node_orch_alloc(o, 0, 300 << 10, STRATA_DT_F64, &y), 0);
    strata_args a;
    stage_args(&a, &x, &y, 1.0, 1.0);
    assert_int_equal(strata_node_submit_chip(o, 0, O_STAGE, &a, NULL), 0);
    assert_int_equal(strata_node_scope_end(o), 0);
  }
}

STRATA_TEST(scope_end_frees_scoped_allocations) {
  (void)state;
  strata_node *n = node_new(1, 0, 10000);
  init_expect(n, 0);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, scoped_orch, NULL, &info), 0);
  assert_int_equal(info.tasks_completed, 5);
  close_clean(n);
}

static strata_tensor late_x, late_y;
static uint32_t O_LATE;

static void k_negate(strata_kernel_ctx *k) {
  const double *x = strata_kernel_tensor(k, 0)->data;
  double *y = strata_kernel_tensor(k, 1)->data;
  y[0] = -x[0];
}
/* Registered after fork: the child learns the kernel id by name. */
static void o_late(strata_orch *o, void *arg) {
  uint32_t k;
  if (strata_chip_find_kernel(strata_orch_chip(o), "negate", &k) == 0) run_kernel(o, k, arg);
}

static void late_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  stage_args(&a, &late_x, &late_y, 0, 0);
  assert_int_equal(strata_node_submit_chip(o, 1, O_LATE, &a, NULL), 0);
}

STRATA_TEST(registration_after_init_is_broadcast) {
  (void)state;
  strata_node *n = node_new(2, 0, 10000);
  init_expect(n, 0);
  uint32_t k_id;
  assert_int_equal(strata_node_register_kernel(n, "negate", k_negate, STRATA_CORE_AIV, &k_id), 0);
  assert_int_equal(k_id, K_STAMP + 1);
  assert_int_equal(strata_node_register_orch(n, "late", o_late, &O_LATE), 0);
  double *x = dev_f64(n, 1, 1, &late_x), *y = dev_f64(n, 1, 1, &late_y);
  x[0] = 4.5;
  assert_int_equal(strata_node_run(n, late_orch, NULL, NULL), 0);
  assert_true(y[0] == -4.5);
  close_clean(n);
}

/* ---- kill -9 and deadlines ------------------------------------------------------------------ */
static strata_tensor sleep_buf;

/* The run's orchestration kills `who` mid-task: the run must fail with
 * ENDPOINT_FAILURE naming it and the signal, well within the deadline. */
static void expect_killed_run(strata_node *n, strata_node_orch_fn fn, const char *who) {
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, fn, NULL, &info), STRATA_ENDPOINT_FAILURE);
  assert_true(ms_since(t0) < 5000);
  assert_non_null(strstr(info.message, who));
  assert_non_null(strstr(info.message, "signal 9"));
}

static void sleep_buffer(strata_node *n, uint32_t chip) {
  void *p;
  assert_int_equal(strata_node_malloc(n, chip, 8, &p), 0);
  sleep_buf = strata_tensor_external(p, 8, STRATA_DT_I64);
}

static void kill_mid_task_orch(strata_node_orch *o, void *arg) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &sleep_buf);
  strata_args_scalar(&a, 20000);
  assert_int_equal(strata_node_submit_chip(o, 1, O_SLEEP, &a, NULL), 0);
  sleep_ms(200);
  kill(strata_node_child_pid(strata_node_orch_node(o), STRATA_CHILD_CHIP, 1), SIGKILL);
  (void)arg;
}

STRATA_TEST(child_killed_mid_task_fails_the_run_not_hangs) {
  (void)state;
  strata_node *n = node_new(2, 0, 30000);
  init_expect(n, 0);
  sleep_buffer(n, 1);
  expect_killed_run(n, kill_mid_task_orch, "chip 1");
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, kill_mid_task_orch, NULL, &info), STRATA_ENDPOINT_FAILURE);
  close_clean(n);
}

static void hung_orch(strata_node_orch *o, void *arg); /* below: a 60 s task on chip 0 */

/* A chip killed between two calls: the next run names it, its pid, how it
 * ended and when. */
STRATA_TEST(child_killed_between_runs_is_named_with_pid_signal_and_time) {
  (void)state;
  strata_node *n = node_new(2, 0, 30000);
  init_expect(n, 0);
  sleep_buffer(n, 0);
  pid_t victim = strata_node_child_pid(n, STRATA_CHILD_CHIP, 1);
  assert_int_equal(kill(victim, SIGKILL), 0);
  sleep_ms(200);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, hung_orch, NULL, &info), STRATA_ENDPOINT_FAILURE);
  const char *e = strata_last_error();
  char want[64];
  snprintf(want, sizeof(want), "chip 1 (pid %d) died (killed by signal 9)", (int)victim);
  fprintf(stderr, "error: %s\n", e);
  assert_non_null(strstr(e, want));
  assert_non_null(strstr(e, " s ago (at "));
  close_clean(n);
}

/* A chip stopped between runs is named at once (a warning; ctest checks
 * it), and the run that needs it still fails at the task deadline. */
STRATA_TEST(stopped_child_is_named_at_once_and_fails_at_the_deadline) {
  (void)state;
  setenv("STRATA_LOG", "warn", 1);
  strata_node *n = node_new(1, 0, 1000);
  init_expect(n, 0);
  sleep_buffer(n, 0);
  pid_t stopped = strata_node_child_pid(n, STRATA_CHILD_CHIP, 0);
  assert_int_equal(kill(stopped, SIGSTOP), 0);
  sleep_ms(400); /* the warning comes within 100 ms */
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, hung_orch, NULL, &info), STRATA_ETIMEDOUT);
  assert_non_null(strstr(info.message, "stopped"));
  close_clean(n);
}

static void *kill_later(void *arg) {
  sleep_ms(300);
  kill(*(pid_t *)arg, SIGKILL);
  return NULL;
}

STRATA_TEST(child_killed_mid_control_fails_the_control) {
  (void)state;
  setenv("STRATA_FAULT_CONTROL_DELAY_MS", "10000", 1);
  strata_node *n = node_new(2, 0, 30000);
  init_expect(n, 0);
  pid_t victim = strata_node_child_pid(n, STRATA_CHILD_CHIP, 0);
  pthread_t th;
  pthread_create(&th, NULL, kill_later, &victim);
  void *p = NULL;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_malloc(n, 0, 64, &p), STRATA_ENDPOINT_FAILURE);
  assert_true(ms_since(t0) < 5000);
  assert_non_null(strstr(strata_last_error(), "during control MALLOC"));
  pthread_join(th, NULL);
  close_clean(n);
  unsetenv("STRATA_FAULT_CONTROL_DELAY_MS");
}

static void hung_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &sleep_buf);
  strata_args_scalar(&a, 60000);
  assert_int_equal(strata_node_submit_chip(o, 0, O_SLEEP, &a, NULL), 0);
}

STRATA_TEST(task_deadline_kills_an_unresponsive_child) {
  (void)state;
  strata_node *n = node_new(1, 0, 500);
  init_expect(n, 0);
  sleep_buffer(n, 0);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, hung_orch, NULL, &info), STRATA_ETIMEDOUT);
  assert_true(ms_since(t0) >= 500 && ms_since(t0) < 5000);
  assert_non_null(strstr(info.message, "within 500 ms"));
  close_clean(n);
}

static void kill_sub_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &sleep_buf);
  assert_int_equal(strata_node_submit_sub(o, S_HANG, &a, NULL), 0);
  sleep_ms(200);
  kill(strata_node_child_pid(strata_node_orch_node(o), STRATA_CHILD_SUB, 0), SIGKILL);
}

STRATA_TEST(sub_killed_mid_task_fails_the_run_not_hangs) {
  (void)state;
  strata_node *n = node_new(1, 1, 30000);
  init_expect(n, 0);
  sleep_buffer(n, 0);
  expect_killed_run(n, kill_sub_orch, "sub 0");
  close_clean(n);
}

STRATA_TEST_MAIN(TEST_LIST)

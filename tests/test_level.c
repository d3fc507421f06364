/* test_level.c - the level engine (SPEC §3): nested L4 on one machine (init
 * barrier over the whole subtree, level orchestrations on chosen children,
 * groups across children, dependencies across children, errors naming the
 * path, kill -9 anywhere in the tree), callables by name from a shared
 * object, all-or-nothing submit, a child's death waking the loop, stopped
 * children named as culprits, and NULL handles. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "platform/platform_int.h" /* the allocation fault hook */
#include "util.h"
#include "test_level_list.h"

static uint32_t K_ADD, K_SLEEP, K_FAIL, O_ADD, O_SLEEP, O_FAIL, L_ADD, L_SLEEP, L_FAIL, L_CALL;
static uint32_t S_SLEEP;

/* ---- callables ---------------------------------------------------------------- */
static void k_fail(strata_kernel_ctx *k) { strata_kernel_fail(k, "kernel exploded"); }

static void o_add(strata_orch *o, void *arg) { orch_one_kernel(o, K_ADD, arg); }
static void o_sleep(strata_orch *o, void *arg) { orch_one_kernel(o, K_SLEEP, arg); }
static void o_fail(strata_orch *o, void *arg) { orch_one_kernel(o, K_FAIL, arg); }

/* Level orchestrations, run by an L3 worker for its L4 (util.h). */
static void l_add(strata_node_orch *o, void *arg) { level_forward(o, O_ADD, arg); }
static void l_sleep(strata_node_orch *o, void *arg) { level_forward(o, O_SLEEP, arg); }
static void l_fail(strata_node_orch *o, void *arg) { level_forward(o, O_FAIL, arg); }
static void l_call(strata_node_orch *o, void *arg) { /* chip orchestration scalar 2 */
  level_forward(o, (uint32_t)((const strata_args *)arg)->scalars[2], arg);
}

static int s_sleep(const strata_args *a, char *msg, size_t len) {
  (void)msg;
  (void)len;
  sleep_ms((unsigned)a->scalars[0]);
  return 0;
}

static void register_all(strata_node *n) {
  assert_int_equal(strata_node_register_kernel(n, "add", k_add_f64, STRATA_CORE_AIV, &K_ADD), 0);
  assert_int_equal(strata_node_register_kernel(n, "sleep", k_sleep, STRATA_CORE_AIV, &K_SLEEP), 0);
  assert_int_equal(strata_node_register_kernel(n, "fail", k_fail, STRATA_CORE_AIV, &K_FAIL), 0);
  assert_int_equal(strata_node_register_orch(n, "add", o_add, &O_ADD), 0);
  assert_int_equal(strata_node_register_orch(n, "sleep", o_sleep, &O_SLEEP), 0);
  assert_int_equal(strata_node_register_orch(n, "fail", o_fail, &O_FAIL), 0);
  assert_int_equal(strata_node_register_level_orch(n, "add", l_add, &L_ADD), 0);
  assert_int_equal(strata_node_register_level_orch(n, "sleep", l_sleep, &L_SLEEP), 0);
  assert_int_equal(strata_node_register_level_orch(n, "fail", l_fail, &L_FAIL), 0);
  assert_int_equal(strata_node_register_level_orch(n, "call", l_call, &L_CALL), 0);
  assert_int_equal(strata_node_register_sub(n, "sleep", s_sleep, &S_SLEEP), 0);
}

/* An L4 of 2 L3 workers with 2 chips each, and one sub at the L4. */
static strata_node *l4_new(uint32_t task_timeout_ms) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_LEVEL | STRATA_NCFG_WORKERS | STRATA_NCFG_CHIPS | STRATA_NCFG_SUBS |
                 STRATA_NCFG_TASK_TIMEOUT | STRATA_NCFG_DEVMEM;
  c.level = 4;
  c.workers = 2;
  c.chips = 2;
  c.subs = 1;
  c.task_timeout_ms = task_timeout_ms;
  c.devmem_bytes = 1 << 20;
  c.chip = cfg_small();
  c.chip.stream_sync_timeout_ms = 0; /* the worker's task deadline is the bound */
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), 0);
  register_all(n);
  return n;
}

static void init_ok(strata_node *n) {
  int rc = strata_node_init(n);
  if (rc) fprintf(stderr, "init: %s\n", strata_last_error());
  assert_int_equal(rc, 0);
}

/* Close, then no process of the tree may remain, nor a /dev/shm entry. */
static void close_clean(strata_node *n) {
  pid_t pids[64];
  size_t np = 0;
  assert_int_equal(strata_node_tree_pids(n, pids, 64, &np), 0);
  assert_int_equal(strata_node_close(n), 0);
  for (int tries = 0; tries < 200; tries++) { /* grandchildren die by PDEATHSIG */
    size_t alive = 0;
    for (size_t i = 0; i < np; i++) alive += kill(pids[i], 0) == 0;
    if (!alive) break;
    sleep_ms(10);
  }
  for (size_t i = 0; i < np; i++) assert_int_not_equal(kill(pids[i], 0), 0);
  assert_int_equal(shm_strata_entries(), 0);
}

static strata_tensor dev_f64(strata_node *n, uint32_t chip, size_t count, double fill) {
  void *p = NULL;
  assert_int_equal(strata_node_malloc(n, chip, count * 8, &p), 0);
  double *host = calloc(count, 8);
  for (size_t i = 0; i < count; i++) host[i] = fill;
  assert_int_equal(strata_node_copy_to(n, chip, p, host, count * 8), 0);
  free(host);
  return strata_tensor_external(p, count * 8, STRATA_DT_F64);
}

static double read_f64(strata_node *n, uint32_t chip, const strata_tensor *t) {
  double v = -1;
  assert_int_equal(strata_node_copy_from(n, chip, &v, t->data, 8), 0);
  return v;
}

static void add_args(strata_args *a, strata_tensor *x, strata_tensor *y, double add, uint32_t chip) {
  strata_args_init(a);
  strata_args_tensor(a, STRATA_INPUT, x);
  strata_args_tensor(a, STRATA_OUTPUT_EXISTING, y);
  strata_args_scalar_f64(a, add);
  strata_args_scalar(a, chip);
}

/* ---- nested L4 ------------------------------------------------------------------- */
STRATA_TEST(l4_tree_is_ready_only_when_its_deepest_chip_is) {
  (void)state;
  setenv("STRATA_FAULT_INIT_DELAY_MS", "3:800", 1); /* worker 1's chip 1, two levels down */
  strata_node *n = l4_new(10000);
  uint64_t t0 = now_ns();
  init_ok(n);
  assert_true(ms_since(t0) >= 800); /* nothing dispatched before the whole tree is ready */
  unsetenv("STRATA_FAULT_INIT_DELAY_MS");
  assert_int_equal(strata_node_chips(n), 4);
  size_t np = 0;
  assert_int_equal(strata_node_tree_pids(n, NULL, 0, &np), 0);
  assert_int_equal(np, 7); /* 2 L3 workers + 4 chips + 1 sub */
  close_clean(n);
}

/* x (chip 0, worker 0) -> y (chip 2, worker 1) -> z (chip 1, worker 0): each
 * step on another child, ordered by tensor overlap alone. */
typedef struct chain {
  strata_tensor x, y, z, g0, g1;
  strata_task_ref last;
} chain;

static void chain_orch(strata_node_orch *o, void *arg) {
  chain *c = arg;
  strata_args a;
  add_args(&a, &c->x, &c->y, 10, 0); /* on worker 1's chip 0 (global chip 2) */
  assert_int_equal(strata_node_submit_child(o, 1, L_ADD, &a, NULL), 0);
  add_args(&a, &c->y, &c->z, 100, 1); /* on worker 0's chip 1 */
  assert_int_equal(strata_node_submit_child(o, 0, L_ADD, &a, &c->last), 0);
  strata_args g0, g1; /* one DAG node over both workers, after z */
  add_args(&g0, &c->z, &c->g0, 1, 0);
  add_args(&g1, &c->z, &c->g1, 2, 1);
  strata_node_member m[2] = {{0, L_ADD, &g0}, {1, L_ADD, &g1}};
  assert_int_equal(strata_node_submit_group(o, m, 2, NULL), 0);
  strata_args s;
  strata_args_init(&s);
  strata_args_tensor(&s, STRATA_INPUT, &c->g1);
  strata_args_scalar(&s, 1);
  assert_int_equal(strata_node_submit_sub(o, S_SLEEP, &s, NULL), 0);
}

STRATA_TEST(l4_orchestrates_level_tasks_groups_and_subs_across_children) {
  (void)state;
  strata_node *n = l4_new(10000);
  init_ok(n);
  chain c = {dev_f64(n, 0, 1, 1), dev_f64(n, 2, 1, 0), dev_f64(n, 1, 1, 0), dev_f64(n, 0, 1, 0),
             dev_f64(n, 3, 1, 0), {0}};
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, chain_orch, &c, &info), 0);
  assert_int_equal(info.tasks_submitted, 4);
  assert_int_equal(info.tasks_completed, 4);
  assert_true(read_f64(n, 2, &c.y) == 11);
  assert_true(read_f64(n, 1, &c.z) == 111);
  assert_true(read_f64(n, 0, &c.g0) == 112);
  assert_true(read_f64(n, 3, &c.g1) == 113);
  close_clean(n);
}

static strata_tensor fail_x, fail_y;

static void fail_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  add_args(&a, &fail_x, &fail_y, 0, 0);
  assert_int_equal(strata_node_submit_child(o, 1, L_FAIL, &a, NULL), 0);
}

STRATA_TEST(l4_errors_name_the_path) {
  (void)state;
  strata_node *n = l4_new(10000);
  init_ok(n);
  fail_x = dev_f64(n, 2, 1, 0);
  fail_y = dev_f64(n, 2, 1, 0);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, fail_orch, NULL, &info), STRATA_TASK_FAILED);
  assert_non_null(strstr(info.message, "L4 child 1 / chip 0"));
  assert_non_null(strstr(info.message, "kernel exploded"));
  close_clean(n);
}

/* kill -9 of one process of the tree while a long task runs on it. */
static strata_tensor long_y;
static pid_t victim;
static uint64_t killed_at;

static void *kill_soon(void *arg) {
  (void)arg;
  sleep_ms(300);
  killed_at = now_ns();
  kill(victim, SIGKILL);
  return NULL;
}

/* A task of ms milliseconds on child 1 running fn (at L4: on the worker's chip 1). */
static void sleep_task(strata_node_orch *o, uint32_t fn, uint64_t ms) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &long_y);
  strata_args_scalar(&a, ms); /* of k_sleep */
  strata_args_scalar(&a, 1);
  assert_int_equal(strata_node_submit_child(o, 1, fn, &a, NULL), 0);
}

static void long_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  sleep_task(o, L_SLEEP, 20000);
}

static void expect_kill_fails_run(size_t which, const char *who) {
  strata_node *n = l4_new(30000);
  init_ok(n);
  long_y = dev_f64(n, 3, 1, 0);
  pid_t pids[16];
  size_t np = 0;
  assert_int_equal(strata_node_tree_pids(n, pids, 16, &np), 0);
  assert_true(which < np);
  victim = pids[which];
  pthread_t th;
  pthread_create(&th, NULL, kill_soon, NULL);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  int rc = strata_node_run(n, long_orch, NULL, &info);
  pthread_join(th, NULL);
  assert_true(rc != 0);
  assert_true(ms_since(t0) < 5000); /* well within the 30 s deadline */
  if (!strstr(info.message, who)) fprintf(stderr, "message: %s\n", info.message);
  assert_non_null(strstr(info.message, who));
  assert_non_null(strstr(info.message, "signal 9"));
  close_clean(n);
}

STRATA_TEST(l4_kill_of_a_worker_ends_the_run_and_leaks_nothing) {
  (void)state;
  expect_kill_fails_run(3, "L4 child 1 (pid"); /* pids: worker 0, its 2 chips, worker 1, ... */
}

STRATA_TEST(l4_kill_of_a_deep_chip_ends_the_run_and_leaks_nothing) {
  (void)state;
  expect_kill_fails_run(5, "L4 child 1 / chip 1"); /* worker 1's chip 1: runs the long task */
}

/* A process of the tree that is idle when it dies still fails the run: the
 * error is recorded at once, the run ends when its tasks have drained. */
static void short_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  sleep_task(o, L_SLEEP, 1000);
}

STRATA_TEST(l4_kill_of_an_idle_sub_is_the_runs_error) {
  (void)state;
  strata_node *n = l4_new(30000);
  init_ok(n);
  long_y = dev_f64(n, 3, 1, 0);
  victim = strata_node_child_pid(n, STRATA_CHILD_SUB, 0); /* the L4's own sub: idle */
  pthread_t th;
  pthread_create(&th, NULL, kill_soon, NULL);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  assert_int_equal(strata_node_run(n, short_orch, NULL, &info), STRATA_ENDPOINT_FAILURE);
  pthread_join(th, NULL);
  assert_true(ms_since(t0) < 5000);
  assert_non_null(strstr(info.message, "sub 0 (pid"));
  assert_non_null(strstr(info.message, "signal 9"));
  assert_int_equal(info.tasks_completed, 1); /* the task itself still finished */
  close_clean(n);
}

/* A chip of the idle worker 0 dies while worker 1 runs the task: worker 0
 * reports it and exits, and the L4's run fails naming the chip. */
STRATA_TEST(l4_kill_of_a_chip_under_an_idle_worker_is_the_runs_error) {
  (void)state;
  strata_node *n = l4_new(30000);
  init_ok(n);
  long_y = dev_f64(n, 3, 1, 0);
  pid_t pids[16];
  size_t np = 0;
  assert_int_equal(strata_node_tree_pids(n, pids, 16, &np), 0);
  victim = pids[1]; /* worker 0's chip 0 */
  pthread_t th;
  pthread_create(&th, NULL, kill_soon, NULL);
  strata_node_run_info info;
  uint64_t t0 = now_ns();
  int rc = strata_node_run(n, short_orch, NULL, &info);
  pthread_join(th, NULL);
  if (rc != STRATA_ENDPOINT_FAILURE) fprintf(stderr, "run: %d %s\n", rc, info.message);
  assert_int_equal(rc, STRATA_ENDPOINT_FAILURE);
  assert_true(ms_since(t0) < 5000);
  assert_non_null(strstr(info.message, "L4 child 0"));
  assert_non_null(strstr(info.message, "lost part of its subtree"));
  assert_non_null(strstr(info.message, "chip 0"));
  close_clean(n);
}

/* ---- callables by name from a shared object -------------------------------------- */
static uint32_t lib_orch;

static void lib_run_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  add_args(&a, &fail_x, &fail_y, 0, 1); /* worker 1's chip 1 */
  strata_args_scalar(&a, lib_orch);
  assert_int_equal(strata_node_submit_child(o, 1, L_CALL, &a, NULL), 0);
}

STRATA_TEST(kernel_library_by_name_runs_on_the_chips_of_an_l4) {
  (void)state;
  const char *lib = getenv("STRATA_TEST_KERNEL_LIB"); /* built by tests/CMakeLists.txt */
  assert_non_null(lib);
  char spec[512];
  strata_node *n = l4_new(10000);
  uint32_t k;
  snprintf(spec, sizeof(spec), "%s:strata_test_k_triple", lib);
  assert_int_equal(strata_node_register_by_name(n, STRATA_FN_KERNEL, "triple", spec,
                                                STRATA_CORE_AIV, &k), 0);
  snprintf(spec, sizeof(spec), "%s:strata_test_o_triple", lib);
  assert_int_equal(strata_node_register_by_name(n, STRATA_FN_ORCH, "triple", spec, 0, &lib_orch), 0);
  assert_int_equal(strata_node_register_by_name(n, STRATA_FN_ORCH, "x", "nolib.so:y", 0, &k),
                   STRATA_ENOENT);
  assert_non_null(strstr(strata_last_error(), "nolib.so"));
  init_ok(n);
  fail_x = dev_f64(n, 3, 1, 7);
  fail_y = dev_f64(n, 3, 1, 0);
  strata_node_run_info info;
  int rc = strata_node_run(n, lib_run_orch, NULL, &info);
  if (rc) fprintf(stderr, "run: %s\n", info.message);
  assert_int_equal(rc, 0);
  assert_true(read_f64(n, 3, &fail_y) == 21);
  close_clean(n);
}

/* ---- an L3 node: submit, deaths, stopped children ----------------------------------- */
static strata_node *l3_new(uint32_t chips, uint32_t subs, uint32_t task_timeout_ms) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_SUBS | STRATA_NCFG_TASK_TIMEOUT |
                 STRATA_NCFG_DEVMEM;
  c.chips = chips;
  c.subs = subs;
  c.task_timeout_ms = task_timeout_ms;
  c.devmem_bytes = 1 << 20;
  c.chip = cfg_small();
  c.chip.stream_sync_timeout_ms = 0;
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), 0);
  register_all(n);
  init_ok(n);
  return n;
}

static int edge_rc, later_rc;

/* The second submit fails on its first edge (the fault hook): nothing of it
 * is linked, later submits still work, and the run returns that error. */
static void edge_fault_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  add_args(&a, &fail_x, &fail_y, 1, 0);
  assert_int_equal(strata_node_submit_chip(o, 0, O_ADD, &a, NULL), 0);
  add_args(&a, &fail_y, &long_y, 1, 0); /* depends on the first: one edge */
  strata__alloc_fail_after(0);
  edge_rc = strata_node_submit_chip(o, 1, O_ADD, &a, NULL);
  strata__alloc_fail_after(-1);
  later_rc = strata_node_submit_chip(o, 1, O_ADD, &a, NULL);
}

STRATA_TEST(rejected_submit_is_all_or_nothing_and_the_runs_error) {
  (void)state;
  strata_node *n = l3_new(2, 0, 10000);
  fail_x = dev_f64(n, 0, 1, 1);
  fail_y = dev_f64(n, 0, 1, 0);
  long_y = dev_f64(n, 1, 1, 0);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, edge_fault_orch, NULL, &info), STRATA_ENOMEM);
  assert_int_equal(edge_rc, STRATA_ENOMEM);
  assert_int_equal(later_rc, 0);
  assert_int_equal(info.tasks_submitted, 2); /* the rejected one is not in the graph */
  assert_int_equal(info.tasks_completed, 2);
  assert_non_null(strstr(info.message, "graph is unchanged"));
  assert_true(read_f64(n, 1, &long_y) == 3); /* the later task still waited for the first */
  close_clean(n);
}

static void bad_child_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  add_args(&a, &fail_x, &fail_y, 1, 0);
  assert_int_equal(strata_node_submit_chip(o, 7, O_ADD, &a, NULL), STRATA_INVALID_ARGS);
}

STRATA_TEST(rejected_submit_is_recorded_in_the_run) {
  (void)state;
  strata_node *n = l3_new(2, 0, 10000);
  fail_x = dev_f64(n, 0, 1, 1);
  fail_y = dev_f64(n, 0, 1, 0);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, bad_child_orch, NULL, &info), STRATA_INVALID_ARGS);
  assert_int_equal(info.tasks_submitted, 0);
  assert_non_null(strstr(info.message, "child 7 does not exist"));
  close_clean(n);
}

/* A chip killed mid-task: the watcher wakes the loop, the task fails at once. */
static void sleep_on_chip1_orch(strata_node_orch *o, void *arg) {
  (void)arg;
  sleep_task(o, O_SLEEP, 20000);
}

STRATA_TEST(child_death_wakes_the_loop_within_100_ms) {
  (void)state;
  strata_node *n = l3_new(2, 0, 30000);
  long_y = dev_f64(n, 1, 1, 0);
  victim = strata_node_child_pid(n, STRATA_CHILD_CHIP, 1);
  pthread_t th;
  pthread_create(&th, NULL, kill_soon, NULL);
  strata_node_run_info info;
  assert_int_equal(strata_node_run(n, sleep_on_chip1_orch, NULL, &info), STRATA_ENDPOINT_FAILURE);
  uint64_t returned = now_ns();
  pthread_join(th, NULL); /* killed_at is read after the join: no race */
  uint64_t noticed_ms = (returned - killed_at) / 1000000u;
  fprintf(stderr, "death noticed after %llu ms\n", (unsigned long long)noticed_ms);
  assert_true(noticed_ms < 100);
  assert_non_null(strstr(info.message, "chip 1"));
  close_clean(n);
}

/* A sub stopped mid-task: named as stopped within the deadline, no hang;
 * stopped then continued before the deadline: the run passes. */
static void sub_sleep_orch(strata_node_orch *o, void *arg) {
  strata_args a;
  strata_args_init(&a);
  strata_args_scalar(&a, *(uint64_t *)arg);
  assert_int_equal(strata_node_submit_sub(o, S_SLEEP, &a, NULL), 0);
  strata_node_scope_begin(o);
  assert_int_equal(strata_node_submit_sub(o, S_SLEEP, &a, NULL), 0);
  strata_node_scope_end(o); /* waits, with a deadline */
}

static void *stop_then(void *arg) {
  uint64_t cont_after = *(uint64_t *)arg;
  sleep_ms(100);
  kill(victim, SIGSTOP);
  if (cont_after) {
    sleep_ms((unsigned)cont_after);
    kill(victim, SIGCONT);
  }
  return NULL;
}

static int run_with_stopped_sub(uint64_t cont_after_ms, strata_node_run_info *info) {
  strata_node *n = l3_new(1, 1, 1500);
  victim = strata_node_child_pid(n, STRATA_CHILD_SUB, 0);
  pthread_t th;
  pthread_create(&th, NULL, stop_then, &cont_after_ms);
  uint64_t sleep_for = 300, t0 = now_ns();
  int rc = strata_node_run(n, sub_sleep_orch, &sleep_for, info);
  pthread_join(th, NULL);
  assert_true(ms_since(t0) < 6000);
  kill(victim, SIGCONT);
  close_clean(n);
  return rc;
}

STRATA_TEST(stopped_sub_is_named_not_a_hang) {
  (void)state;
  strata_node_run_info info;
  assert_int_equal(run_with_stopped_sub(0, &info), STRATA_ETIMEDOUT);
  assert_non_null(strstr(info.message, "sub 0 (pid"));
  assert_non_null(strstr(info.message, "is stopped"));
}

STRATA_TEST(sub_stopped_then_continued_passes) {
  (void)state;
  strata_node_run_info info;
  int rc = run_with_stopped_sub(500, &info);
  if (rc) fprintf(stderr, "run: %s\n", info.message);
  assert_int_equal(rc, 0);
  assert_int_equal(info.tasks_completed, 2);
}

/* ---- NULL handles: EINVAL with a message, never a crash ------------------------------ */
STRATA_TEST(null_handles_are_einval_with_a_message) {
  (void)state;
  void *p;
  size_t np;
  uint32_t id, d;
  strata_args a;
  strata_args_init(&a);
  int rcs[] = {
      strata_node_create(NULL, NULL), strata_node_init(NULL),
      strata_node_malloc(NULL, 0, 8, &p), strata_node_free(NULL, 0, &p),
      strata_node_copy_to(NULL, 0, &p, &p, 8), strata_node_copy_from(NULL, 0, &p, &p, 8),
      strata_node_run(NULL, NULL, NULL, NULL),
      strata_node_register_kernel(NULL, "k", k_add_f64, STRATA_CORE_AIV, &id),
      strata_node_register_orch(NULL, "o", o_add, &id), strata_node_register_sub(NULL, "s", s_sleep, &id),
      strata_node_register_level_orch(NULL, "l", l_add, &id),
      strata_node_register_by_name(NULL, STRATA_FN_KERNEL, "k", "x", STRATA_CORE_AIV, &id),
      strata_node_tree_pids(NULL, NULL, 0, &np), strata_node_submit_chip(NULL, 0, 0, &a, NULL),
      strata_node_submit_child(NULL, 0, 0, &a, NULL), strata_node_submit_sub(NULL, 0, &a, NULL),
      strata_node_submit_group(NULL, NULL, 0, NULL), strata_node_scope_begin(NULL),
      strata_node_scope_end(NULL), strata_node_orch_alloc(NULL, 0, 8, STRATA_DT_U8, NULL),
      strata_node_orch_fatal(NULL, "x"),
      strata_node_domain_create(NULL, &id, 1, 4096, &d), strata_node_domain_release(NULL, 0),
      strata_callable_resolve(NULL, NULL), strata_chip_create(NULL, NULL),
      strata_chip_run(NULL, NULL, NULL, NULL), strata_chip_config_resolve(NULL, NULL),
      strata_chip_register_kernel(NULL, "k", k_add_f64, STRATA_CORE_AIV, &id),
      strata_chip_find_kernel(NULL, "k", &id), strata_parse_u64(NULL, NULL)};
  for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
    if (rcs[i] != STRATA_EINVAL) fprintf(stderr, "call %zu returned %d\n", i, rcs[i]);
    assert_true(rcs[i] == STRATA_EINVAL || rcs[i] == STRATA_ENOENT);
  }
  assert_true(strata_last_error()[0] != '\0');
  assert_int_equal(strata_node_close(NULL), 0);
  assert_int_equal(strata_chip_destroy(NULL), 0);
  assert_int_equal(strata_node_chips(NULL), 0);
  assert_int_equal(strata_node_child_pid(NULL, STRATA_CHILD_CHIP, 0), -1);
  assert_null(strata_node_orch_node(NULL));
  assert_non_null(strata_chip_get_config(NULL));
  /* the chip-level calls with a NULL orchestration or kernel context */
  int orch_rcs[] = {strata_orch_submit(NULL, 0, &a, NULL), strata_orch_scope_begin(NULL),
                    strata_orch_scope_end(NULL), strata_orch_release(NULL, (strata_task_ref){1}),
                    strata_orch_wait_tensor(NULL, NULL), strata_orch_status(NULL),
                    strata_orch_fatal(NULL, "x")};
  for (size_t i = 0; i < sizeof(orch_rcs) / sizeof(orch_rcs[0]); i++)
    assert_int_equal(orch_rcs[i], STRATA_EINVAL);
  assert_non_null(strstr(strata_last_error(), "orch handle is NULL"));
  assert_null(strata_orch_chip(NULL));
  assert_int_equal(strata_kernel_ntensors(NULL), 0);
  assert_null(strata_kernel_tensor(NULL, 0));
  assert_true(strata_kernel_cancelled(NULL));
  strata_kernel_fail(NULL, "x");
  strata_args_init(NULL);
  strata_args_scalar(NULL, 1);
  strata_args_tensor(NULL, STRATA_INPUT, NULL);
  assert_null(strata_tensor_view(NULL, 0, 1).data);
}

STRATA_TEST_MAIN(TEST_LIST)

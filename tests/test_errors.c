/* test_errors.c - every orchestrator error code of SPEC §2 provoked on
 * purpose, first-error-wins latching, and API misuse returning codes. */
#include "util.h"
#include "test_errors_list.h"

static uint32_t K_NOP, K_HANG;
static int orch_rc; /* what the failing call returned inside the orchestration */
static int64_t buf[4];

static strata_chip *chip_for_errors(strata_chip_config *c) {
  strata_chip *chip = chip_new(c);
  K_NOP = kernel_new(chip, "nop", k_nop, STRATA_CORE_AIV);
  K_HANG = kernel_new(chip, "hang", k_hang, STRATA_CORE_AIV);
  orch_rc = 0;
  return chip;
}

/* Submit kernel k with one tensor argument (tag) or an output of `bytes`. */
static int submit1(strata_orch *o, uint32_t k, strata_arg_tag tag, strata_tensor *t,
                   size_t bytes, int held) {
  strata_args a;
  strata_args_init(&a);
  if (tag == STRATA_OUTPUT)
    strata_args_output(&a, t, bytes, STRATA_DT_U8);
  else
    strata_args_tensor(&a, tag, t);
  if (held) strata_args_hold(&a);
  return strata_orch_submit(o, k, &a, NULL);
}

static void expect_code(strata_chip_config *c, strata_orch_fn fn, int want, const char *needle) {
  strata_chip *chip = chip_for_errors(c);
  strata_run_info info;
  run_expect(chip, fn, NULL, &info, want);
  assert_int_equal(orch_rc, want);
  assert_int_equal(info.orch_code, strata_chip_code(want));
  assert_int_equal(info.raw_status, -strata_chip_code(want));
  if (!strstr(info.message, needle)) fprintf(stderr, "message: %s\n", info.message);
  assert_non_null(strstr(info.message, needle));
  assert_int_equal(strata_chip_destroy(chip), 0);
}

/* ---- 1 SCOPE_DEADLOCK ---- */
static void scope_deadlock_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_orch_scope_begin(o);
  for (int i = 0; i < 5 && orch_rc == 0; i++) {
    strata_tensor t;
    orch_rc = submit1(o, K_NOP, STRATA_OUTPUT, &t, 64, 0);
  }
  strata_orch_scope_end(o);
}

STRATA_TEST(scope_deadlock_code_1) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_TASK_WINDOW, &c.task_window, 4);
  expect_code(&c, scope_deadlock_orch, STRATA_SCOPE_DEADLOCK, "still-open scope");
}

/* ---- 2 HEAP_RING_DEADLOCK ---- */
static void heap_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t;
  orch_rc = submit1(o, K_NOP, STRATA_OUTPUT, &t, 8192, 0);
}

STRATA_TEST(heap_ring_deadlock_code_2) {
  (void)state;
  strata_chip_config c = cfg_small();
  c.field_mask |= STRATA_CFG_HEAP_BYTES;
  c.heap_bytes = 4096;
  expect_code(&c, heap_orch, STRATA_HEAP_RING_DEADLOCK, "PTO2_RING_HEAP");
}

/* ---- 3 FLOW_CONTROL_DEADLOCK ---- */
static void flow_orch(strata_orch *o, void *arg) {
  (void)arg;
  for (int i = 0; i < 5 && orch_rc == 0; i++) {
    strata_tensor t = strata_tensor_external(&buf[i % 4], 8, STRATA_DT_I64);
    orch_rc = submit1(o, K_HANG, STRATA_NO_DEP, &t, 0, 0);
  }
}

STRATA_TEST(flow_control_deadlock_code_3) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_TASK_WINDOW, &c.task_window, 4);
  cfg_set(&c, STRATA_CFG_RING_WAIT_TIMEOUT, &c.ring_wait_timeout_ms, 200);
  cfg_set(&c, STRATA_CFG_SCHED_TIMEOUT, &c.scheduler_timeout_ms, 20000);
  expect_code(&c, flow_orch, STRATA_FLOW_CONTROL_DEADLOCK, "task window");
}

/* ---- 4 DEP_POOL_OVERFLOW ---- */
static void deps_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_args_init(&a);
  for (int i = 0; i < 3; i++) {
    strata_tensor t = strata_tensor_external(&buf[i], 8, STRATA_DT_I64);
    submit1(o, K_NOP, STRATA_OUTPUT_EXISTING, &t, 0, 1); /* held: stays live */
    strata_args_tensor(&a, STRATA_INPUT, &t);
  }
  orch_rc = strata_orch_submit(o, K_NOP, &a, NULL);
}

STRATA_TEST(dep_pool_overflow_code_4) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_DEP_POOL, &c.dep_pool, 2);
  expect_code(&c, deps_orch, STRATA_DEP_POOL_OVERFLOW, "PTO2_RING_DEP_POOL");
}

/* ---- 5 INVALID_ARGS ---- */
static void bad_kernel_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  orch_rc = submit1(o, 99, STRATA_INPUT, &t, 0, 0);
}

static void after_scope_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor y;
  strata_orch_scope_begin(o);
  submit1(o, K_NOP, STRATA_OUTPUT, &y, 64, 0);
  strata_orch_scope_end(o);
  orch_rc = submit1(o, K_NOP, STRATA_INPUT, &y, 0, 0); /* y was freed */
}

static void too_many_args_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_args_init(&a);
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  for (int i = 0; i <= STRATA_MAX_TENSOR_ARGS; i++) strata_args_tensor(&a, STRATA_INPUT, &t);
  orch_rc = strata_orch_submit(o, K_NOP, &a, NULL);
}

STRATA_TEST(invalid_args_code_5) {
  (void)state;
  strata_chip_config c = cfg_small();
  expect_code(&c, bad_kernel_orch, STRATA_INVALID_ARGS, "kernel id 99");
  expect_code(&c, after_scope_orch, STRATA_INVALID_ARGS, "scope has ended");
  expect_code(&c, too_many_args_orch, STRATA_INVALID_ARGS, "max 256 tensors, 128 scalars");
}

/* ---- 6 DEPENDENCY_OVERFLOW ---- */
static void dep_overflow_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  for (int i = 0; i < STRATA_MAX_DEPS + 1; i++) submit1(o, K_NOP, STRATA_INPUT, &t, 0, 1);
  orch_rc = submit1(o, K_NOP, STRATA_INOUT, &t, 0, 0); /* WAR on 65 live readers */
}

STRATA_TEST(dependency_overflow_code_6) {
  (void)state;
  strata_chip_config c = cfg_small();
  expect_code(&c, dep_overflow_orch, STRATA_DEPENDENCY_OVERFLOW, "STRATA_MAX_DEPS");
}

/* ---- 8 TENSOR_WAIT_TIMEOUT ---- */
static void tensor_wait_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  submit1(o, K_NOP, STRATA_OUTPUT_EXISTING, &t, 0, 1); /* held writer */
  orch_rc = strata_orch_wait_tensor(o, &t);
}

/* get_tensor_data waits for a held writer; set_tensor_data for a held reader. */
static void get_data_wait_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  int64_t v = 0;
  submit1(o, K_NOP, STRATA_OUTPUT_EXISTING, &t, 0, 1);
  orch_rc = strata_orch_get_tensor_data(o, &t, &v, sizeof(v));
}

static void set_data_wait_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  int64_t v = 5;
  submit1(o, K_NOP, STRATA_INPUT, &t, 0, 1);
  orch_rc = strata_orch_set_tensor_data(o, &t, &v, sizeof(v));
}

STRATA_TEST(tensor_wait_timeout_code_8) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_TENSOR_WAIT_TIMEOUT, &c.tensor_wait_timeout_ms, 200);
  cfg_set(&c, STRATA_CFG_SCHED_TIMEOUT, &c.scheduler_timeout_ms, 20000);
  expect_code(&c, tensor_wait_orch, STRATA_TENSOR_WAIT_TIMEOUT, "within 200 ms");
  expect_code(&c, get_data_wait_orch, STRATA_TENSOR_WAIT_TIMEOUT, "within 200 ms");
  expect_code(&c, set_data_wait_orch, STRATA_TENSOR_WAIT_TIMEOUT, "within 200 ms");
}

/* ---- 9 EXPLICIT_ORCH_FATAL, first error wins ---- */
static void fatal_orch(strata_orch *o, void *arg) {
  (void)arg;
  orch_rc = strata_orch_fatal(o, "boom %d", 3);
  strata_orch_fatal(o, "second error");
  strata_tensor t = strata_tensor_external(buf, 8, STRATA_DT_I64);
  assert_int_equal(submit1(o, K_NOP, STRATA_INPUT, &t, 0, 0), STRATA_EXPLICIT_ORCH_FATAL);
}

STRATA_TEST(explicit_orch_fatal_code_9_first_wins) {
  (void)state;
  strata_chip_config c = cfg_small();
  expect_code(&c, fatal_orch, STRATA_EXPLICIT_ORCH_FATAL, "boom 3");
}

/* ---- 10 SCOPE_TASKS_OVERFLOW ---- */
static void scope_tasks_orch(strata_orch *o, void *arg) {
  (void)arg;
  for (int i = 0; i < 5 && orch_rc == 0; i++) {
    strata_tensor t;
    orch_rc = submit1(o, K_NOP, STRATA_OUTPUT, &t, 64, 0);
  }
}

STRATA_TEST(scope_tasks_overflow_code_10) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_SCOPE_TASKS, &c.scope_tasks_cap, 4);
  expect_code(&c, scope_tasks_orch, STRATA_SCOPE_TASKS_OVERFLOW, "STRATA_SCOPE_TASKS_CAP");
}

/* ---- 11 TENSORMAP_OVERFLOW: more live accesses than tensormap_cap ---- */
static int64_t wide[1200];

static void tensormap_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor all = strata_tensor_external(wide, sizeof(wide), STRATA_DT_I64);
  orch_rc = submit1(o, K_NOP, STRATA_OUTPUT_EXISTING, &all, 0, 1); /* held writer */
  for (int i = 0; i < 1200 && orch_rc == 0; i++) { /* readers stay WAITING: all live */
    strata_tensor v = strata_tensor_view(&all, (size_t)i * 8, 8);
    orch_rc = submit1(o, K_NOP, STRATA_INPUT, &v, 0, 0);
  }
}

STRATA_TEST(tensormap_overflow_code_11) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_TENSORMAP_CAP, &c.tensormap_cap, 1024);
  expect_code(&c, tensormap_orch, STRATA_TENSORMAP_OVERFLOW, "STRATA_TENSORMAP_CAP");
}

/* ---- 7 REQUIRE_SYNC_START_INVALID ---- */
static void sync_start_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_args a;
  strata_args_init(&a);
  strata_args_spmd(&a, 7, 1); /* a 1-cluster chip has 2 AIV cores */
  orch_rc = strata_orch_submit(o, K_NOP, &a, NULL);
}

STRATA_TEST(require_sync_start_invalid_code_7) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_CLUSTERS, &c.clusters, 1);
  expect_code(&c, sync_start_orch, STRATA_REQUIRE_SYNC_START_INVALID, "STRATA_CLUSTERS");
}

/* Codes 7 and 104 exist with the seed system's numbers (104 cannot be
 * reached: the ready queues hold every task slot). */
STRATA_TEST(seed_code_parity) {
  (void)state;
  assert_int_equal(strata_chip_code(STRATA_REQUIRE_SYNC_START_INVALID), 7);
  assert_int_equal(strata_chip_code(STRATA_TENSORMAP_OVERFLOW), 11);
  assert_int_equal(strata_chip_code(STRATA_READY_QUEUE_OVERFLOW), 104);
  assert_string_equal(strata_err_name(-1104), "READY_QUEUE_OVERFLOW");
  assert_string_equal(strata_err_name(-1007), "REQUIRE_SYNC_START_INVALID");
  for (int code = -3100; code <= 1; code++) /* every named status has a message */
    if (strcmp(strata_err_name(code), "UNKNOWN") != 0) assert_true(strata_strerror(code)[0]);
}

/* ---- API misuse ---- */
static strata_chip *self_chip;

static void misuse_orch(strata_orch *o, void *arg) {
  (void)arg;
  uint32_t id;
  assert_int_equal(strata_chip_register_kernel(self_chip, "late", k_nop, STRATA_CORE_AIV, &id),
                   STRATA_EBUSY);
  assert_int_equal(strata_chip_destroy(self_chip), STRATA_EBUSY);
  assert_int_equal(strata_chip_run(self_chip, misuse_orch, NULL, NULL), STRATA_EBUSY);
  assert_int_equal(strata_orch_scope_end(o), STRATA_EINVAL);
}

STRATA_TEST(api_misuse_returns_codes) {
  (void)state;
  strata_chip_config c = cfg_small();
  self_chip = chip_for_errors(&c);
  assert_int_equal(strata_chip_run(self_chip, NULL, NULL, NULL), STRATA_EINVAL);
  assert_int_equal(strata_chip_register_kernel(self_chip, "x", NULL, STRATA_CORE_AIV, &(uint32_t){0}),
                   STRATA_EINVAL);
  strata_run_info info;
  run_expect(self_chip, misuse_orch, NULL, &info, 0);
  assert_int_equal(strata_chip_create(NULL, NULL), STRATA_EINVAL);
  assert_int_equal(strata_chip_destroy(self_chip), 0);
}

STRATA_TEST_MAIN(TEST_LIST)

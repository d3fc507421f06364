/* test_hang.c - the scheduler hang detector of SPEC §2: a never-returning
 * kernel (SCHEDULER_TIMEOUT class S1 vs STREAM_SYNC_TIMEOUT), the ownership
 * gate against idle siblings, legacy mode, the gated deadlock fallback
 * (S3, S4, S5; a late-released held task is not a deadlock), STALL reports
 * and a kernel that ignores cancellation (wedged chip). */
#include "util.h"
#include "test_hang_list.h"

static uint32_t K_HANG, K_SLEEP, K_NOP;
static int64_t cell;

static strata_chip *hang_chip(uint32_t budget_ms, uint32_t sync_ms) {
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SCHED_TIMEOUT | STRATA_CFG_SYNC_TIMEOUT |
                 STRATA_CFG_UNORDERED_TIMEOUTS;
  c.scheduler_timeout_ms = budget_ms;
  c.stream_sync_timeout_ms = sync_ms;
  c.unordered_timeouts = sync_ms <= budget_ms + 1500; /* a test of the field's setup */
  strata_chip *chip = chip_new(&c);
  K_HANG = kernel_new(chip, "hang", k_hang, STRATA_CORE_AIV);
  K_SLEEP = kernel_new(chip, "sleep", k_sleep, STRATA_CORE_AIV);
  K_NOP = kernel_new(chip, "nop", k_nop, STRATA_CORE_AIC);
  return chip;
}

static void submit_k(strata_orch *o, uint32_t k, uint64_t scalar, int held) {
  strata_tensor t = strata_tensor_external(&cell, 8, STRATA_DT_I64);
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INOUT, &t);
  strata_args_scalar(&a, scalar);
  if (held) strata_args_hold(&a);
  strata_orch_submit(o, k, &a, NULL);
}

static void slow_chain_orch_short(strata_orch *o, void *arg) {
  (void)arg;
  submit_k(o, K_SLEEP, 1, 0);
  submit_k(o, K_SLEEP, 1, 0);
}

static void hang_orch(strata_orch *o, void *arg) {
  (void)arg;
  submit_k(o, K_HANG, 0, 0);
}

STRATA_TEST(never_returning_kernel_latches_100_within_budget) {
  (void)state;
  strata_chip *chip = hang_chip(300, 30000);
  strata_run_info info;
  uint64_t t0 = now_ns();
  run_expect(chip, hang_orch, NULL, &info, STRATA_SCHEDULER_TIMEOUT);
  uint64_t ms = ms_since(t0);
  assert_true(ms >= 300 && ms < 1500);
  assert_int_equal(info.sched_code, 100);
  assert_int_equal(info.raw_status, -100);
  assert_true(info.sched_thread >= 0 && info.sched_thread < 3);
  assert_true(info.report_bitmap & (1ull << info.sched_thread));
  assert_non_null(strstr(info.message, "SCHEDULER_TIMEOUT_MS"));
  assert_int_equal(info.hang_class, STRATA_HANG_RUNNING_STALLED);
  assert_non_null(strstr(info.message, "S1 running-stalled"));
  assert_non_null(strstr(info.message, "kernel 'hang'"));
  assert_string_equal(info.stuck_kernel, "hang");
  assert_true(info.stuck_task != 0);
  assert_true(info.stuck_core >= 0 && info.stuck_core < 9);
  assert_true(info.stuck_ms >= 300);
  assert_int_equal(strata_chip_destroy(chip), 0);
}

STRATA_TEST(never_returning_kernel_hits_stream_sync_timeout) {
  (void)state;
  strata_chip *chip = hang_chip(20000, 300);
  strata_run_info info;
  uint64_t t0 = now_ns();
  run_expect(chip, hang_orch, NULL, &info, STRATA_STREAM_SYNC_TIMEOUT);
  assert_true(ms_since(t0) < 2000);
  assert_int_equal(info.sched_code, 0);
  assert_int_not_equal(info.status, STRATA_SCHEDULER_TIMEOUT);
  assert_non_null(strstr(info.message, "STREAM_SYNC_TIMEOUT_MS"));
  /* the chip is still usable after a cancelled run */
  run_expect(chip, slow_chain_orch_short, NULL, &info, 0);
  assert_int_equal(info.tasks_completed, 2);
  assert_int_equal(strata_chip_destroy(chip), 0);
}

/* A chain of 6 kernels of 150 ms on one scheduler's core: that thread keeps
 * progressing while its siblings sit idle for ~900 ms > the 400 ms budget. */
static void slow_chain_orch(strata_orch *o, void *arg) {
  (void)arg;
  for (int i = 0; i < 6; i++) submit_k(o, K_SLEEP, 150, 0);
}

static strata_chip *slow_chip(int legacy) {
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SCHED_TIMEOUT | STRATA_CFG_SYNC_TIMEOUT | STRATA_CFG_STALL_REPORT |
                 STRATA_CFG_LEGACY | STRATA_CFG_LEGACY_IDLE_CAP;
  c.scheduler_timeout_ms = 400;
  c.stream_sync_timeout_ms = 30000;
  c.stall_report_ms = 100;
  c.legacy_sched_timeout = (uint32_t)legacy;
  c.legacy_idle_cap = 100;
  strata_chip *chip = chip_new(&c);
  K_SLEEP = kernel_new(chip, "sleep", k_sleep, STRATA_CORE_AIV);
  return chip;
}

STRATA_TEST(slow_progress_is_not_latched_by_idle_siblings) {
  (void)state;
  strata_chip *chip = slow_chip(0);
  strata_run_info info;
  uint64_t t0 = now_ns();
  run_expect(chip, slow_chain_orch, NULL, &info, 0);
  assert_true(ms_since(t0) >= 900);
  assert_int_equal(info.sched_code, 0);
  assert_int_equal(info.report_bitmap, 0);
  assert_int_equal(info.tasks_completed, 6);
  assert_true(info.stall_reports >= 1); /* diagnosed, not latched */
  assert_int_equal(strata_chip_destroy(chip), 0);
}

STRATA_TEST(legacy_mode_latches_slow_progress) {
  (void)state;
  strata_chip *chip = slow_chip(1);
  strata_run_info info;
  run_expect(chip, slow_chain_orch, NULL, &info, STRATA_SCHEDULER_TIMEOUT);
  assert_int_equal(info.sched_code, 100);
  assert_true(info.tasks_completed < 6);
  assert_non_null(strstr(info.message, "legacy idle cap"));
  assert_int_equal(info.hang_class, STRATA_HANG_LEGACY);
  assert_non_null(strstr(info.message, "LEGACY"));
  assert_int_equal(strata_chip_destroy(chip), 0);
}

static void forgotten_hold_orch(strata_orch *o, void *arg) {
  (void)arg;
  submit_k(o, K_SLEEP, 0, 1); /* held, never released */
  submit_k(o, K_SLEEP, 0, 0); /* waits on it */
}

STRATA_TEST(deadlock_after_orchestration_returned_is_s4) {
  (void)state;
  strata_chip *chip = hang_chip(300, 30000);
  strata_run_info info;
  uint64_t t0 = now_ns();
  run_expect(chip, forgotten_hold_orch, NULL, &info, STRATA_SCHEDULER_TIMEOUT);
  assert_true(ms_since(t0) >= 300 && ms_since(t0) < 2000);
  assert_int_equal(info.hang_class, STRATA_HANG_DEP_DEADLOCK);
  assert_non_null(strstr(info.message, "S4 dependency-deadlock"));
  assert_non_null(strstr(info.message, "2 task(s) WAITING"));
  assert_non_null(strstr(info.message, "held (never released?)"));
  assert_string_equal(info.stuck_kernel, "sleep");
  assert_int_equal(info.stuck_core, -1); /* never ran */
  assert_int_equal(strata_chip_destroy(chip), 0);
}

static int wait_rc;

static void deadlock_mid_orch(strata_orch *o, void *arg) {
  (void)arg;
  submit_k(o, K_SLEEP, 0, 1);
  strata_tensor t = strata_tensor_external(&cell, 8, STRATA_DT_I64);
  wait_rc = strata_orch_wait_tensor(o, &t); /* blocked in the runtime, not returned */
}

STRATA_TEST(deadlock_while_orchestrator_blocked_in_runtime_is_s5) {
  (void)state;
  strata_chip *chip = hang_chip(300, 30000);
  strata_run_info info;
  uint64_t t0 = now_ns();
  run_expect(chip, deadlock_mid_orch, NULL, &info, STRATA_SCHEDULER_TIMEOUT);
  assert_true(ms_since(t0) < 3000); /* before the 10 s tensor-wait budget */
  assert_int_equal(wait_rc, STRATA_ECANCELED);
  assert_int_equal(info.orch_code, 0);
  assert_int_equal(info.hang_class, STRATA_HANG_ORCH_STARVATION);
  assert_non_null(strstr(info.message, "S5 orchestrator-starvation"));
  assert_non_null(strstr(info.message, "waits for a tensor"));
  assert_string_equal(info.stuck_kernel, "sleep");
  assert_int_equal(strata_chip_destroy(chip), 0);
}

/* User code holds a task and releases it after 1.5 budgets: not a deadlock. */
static void late_release_orch(strata_orch *o, void *arg) {
  (void)arg;
  strata_tensor t = strata_tensor_external(&cell, 8, STRATA_DT_I64);
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INOUT, &t);
  strata_args_scalar(&a, 0);
  strata_args_hold(&a);
  strata_task_ref held;
  assert_int_equal(strata_orch_submit(o, K_SLEEP, &a, &held), 0);
  submit_k(o, K_SLEEP, 0, 0); /* waits on the held task */
  sleep_ms(1500);             /* user code, budget 1000 ms */
  assert_int_equal(strata_orch_release(o, held), 0);
}

STRATA_TEST(held_task_released_late_is_not_a_deadlock) {
  (void)state;
  strata_chip *chip = hang_chip(1000, 30000);
  strata_run_info info;
  run_expect(chip, late_release_orch, NULL, &info, 0);
  assert_int_equal(info.sched_code, 0);
  assert_int_equal(info.hang_class, STRATA_HANG_NONE);
  assert_int_equal(info.tasks_completed, 2);
  assert_int_equal(strata_chip_destroy(chip), 0);
}

/* A dispatcher that never dispatches (fault injection) leaves READY tasks. */
STRATA_TEST(ready_tasks_with_every_core_idle_is_s3) {
  (void)state;
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SCHED_TIMEOUT | STRATA_CFG_FAULT_NO_DISPATCH;
  c.scheduler_timeout_ms = 300;
  c.fault_no_dispatch = 1;
  strata_chip *chip = chip_new(&c);
  K_SLEEP = kernel_new(chip, "sleep", k_sleep, STRATA_CORE_AIV);
  strata_run_info info;
  run_expect(chip, slow_chain_orch_short, NULL, &info, STRATA_SCHEDULER_TIMEOUT);
  assert_int_equal(info.hang_class, STRATA_HANG_READY_IDLE);
  assert_non_null(strstr(info.message, "S3 ready-but-all-idle"));
  assert_non_null(strstr(info.message, "1 task(s) READY"));
  assert_string_equal(info.stuck_kernel, "sleep");
  assert_int_equal(strata_chip_destroy(chip), 0);
}

STRATA_TEST(hang_class_names) {
  (void)state;
  assert_string_equal(strata_hang_class_name(STRATA_HANG_RUNNING_STALLED), "S1 running-stalled");
  assert_string_equal(strata_hang_class_name(STRATA_HANG_READY_IDLE), "S3 ready-but-all-idle");
  assert_string_equal(strata_hang_class_name(STRATA_HANG_DEP_DEADLOCK), "S4 dependency-deadlock");
  assert_string_equal(strata_hang_class_name(STRATA_HANG_ORCH_STARVATION),
                      "S5 orchestrator-starvation");
  assert_string_equal(strata_hang_class_name(STRATA_HANG_LEGACY), "LEGACY idle cap");
  assert_string_equal(strata_hang_class_name(2), "none");
}

/* A kernel that ignores cancellation leaves the chip wedged, not the test hung. */
static void k_stubborn(strata_kernel_ctx *k) {
  (void)k;
  sleep_ms(1500);
}

static void stubborn_orch(strata_orch *o, void *arg) {
  (void)arg;
  submit_k(o, *(uint32_t *)arg, 0, 0);
}

static strata_chip *wedged_chip; /* kept reachable: its arena is leaked on purpose */

STRATA_TEST(kernel_ignoring_cancel_wedges_chip) {
  (void)state;
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SCHED_TIMEOUT | STRATA_CFG_JOIN_GRACE;
  c.scheduler_timeout_ms = 200;
  c.join_grace_ms = 200;
  wedged_chip = chip_new(&c);
  uint32_t k = kernel_new(wedged_chip, "stubborn", k_stubborn, STRATA_CORE_AIV);
  strata_run_info info;
  run_expect(wedged_chip, stubborn_orch, &k, &info, STRATA_SCHEDULER_TIMEOUT);
  assert_int_equal(strata_chip_run(wedged_chip, stubborn_orch, &k, &info), STRATA_CHIP_WEDGED);
  assert_non_null(strstr(strata_last_error(), "destroy this chip"));
  assert_int_equal(strata_chip_destroy(wedged_chip), 0);
  sleep_ms(1500); /* let the stubborn kernel finish before exit */
}

STRATA_TEST_MAIN(TEST_LIST)

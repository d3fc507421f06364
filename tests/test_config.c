/* test_config.c - the configuration resolver of SPEC §2/§3: production
 * defaults, timeout ordering (explicit pairs rejected, environment pairs
 * warned once and replaced by the defaults, the explicit unordered switch),
 * SIMPLER_* aliases, one warning per invalid value per process, and node
 * task timeouts above the chips' stream sync. */
#include <fcntl.h>

#include "util.h"
#include "test_config_list.h"

/* ---- stderr capture: count the lines a run of code warns ---- */
static char cap_path[64];
static int saved_fd = -1;

static void capture_begin(void) {
  setenv("STRATA_LOG", "warn", 1); /* read once, at the first log call */
  snprintf(cap_path, sizeof(cap_path), "/tmp/strata-cfgtest-XXXXXX");
  int fd = mkstemp(cap_path);
  assert_true(fd >= 0);
  fflush(stderr);
  saved_fd = dup(2);
  dup2(fd, 2);
  close(fd);
}

static int capture_count(const char *needle) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  FILE *f = fopen(cap_path, "r");
  assert_non_null(f);
  char line[2048];
  int n = 0;
  while (fgets(line, sizeof(line), f)) {
    fputs(line, stderr); /* keep it visible in the test log */
    n += strstr(line, needle) != NULL;
  }
  fclose(f);
  unlink(cap_path);
  return n;
}

static strata_chip_config timeouts(uint32_t sched, uint32_t sync) {
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SCHED_TIMEOUT | STRATA_CFG_SYNC_TIMEOUT;
  c.scheduler_timeout_ms = sched;
  c.stream_sync_timeout_ms = sync;
  return c;
}

STRATA_TEST(defaults_are_production_friendly) {
  (void)state;
  strata_chip_config c;
  strata_chip_config_init(&c);
  assert_int_equal(c.scheduler_timeout_ms, 10000);
  assert_int_equal(c.stream_sync_timeout_ms, 50000);
  assert_int_equal(c.unordered_timeouts, 0);
  strata_node_config n;
  strata_node_config_init(&n);
  assert_int_equal(n.task_timeout_ms, 60000);
  assert_true(n.task_timeout_ms > n.chip.stream_sync_timeout_ms);
}

STRATA_TEST(explicit_timeouts_out_of_order_are_rejected) {
  (void)state;
  strata_chip_config c = timeouts(10000, 11000); /* needs > 11500 */
  strata_chip *chip = NULL;
  assert_int_equal(strata_chip_create(&c, &chip), STRATA_EINVAL);
  assert_null(chip);
  const char *m = strata_last_error();
  assert_non_null(strstr(m, "stream_sync_timeout_ms (11000)"));
  assert_non_null(strstr(m, "scheduler_timeout_ms (10000)"));
  assert_non_null(strstr(m, "above 11500"));
  assert_non_null(strstr(m, "STRATA_CFG_UNORDERED_TIMEOUTS"));
  c = timeouts(10000, 11501);
  assert_int_equal(strata_chip_create(&c, &chip), 0);
  assert_int_equal(strata_chip_destroy(chip), 0);
}

STRATA_TEST(unordered_switch_and_zero_sync_are_accepted) {
  (void)state;
  strata_chip_config c = timeouts(5000, 2000), out;
  c.field_mask |= STRATA_CFG_UNORDERED_TIMEOUTS;
  c.unordered_timeouts = 1;
  assert_int_equal(strata_chip_config_resolve(&c, &out), 0);
  assert_int_equal(out.stream_sync_timeout_ms, 2000);
  c = timeouts(5000, 0); /* 0 = no stream-sync deadline */
  assert_int_equal(strata_chip_config_resolve(&c, &out), 0);
  assert_int_equal(out.stream_sync_timeout_ms, 0);
}

STRATA_TEST(environment_pair_out_of_order_warns_once_and_uses_defaults) {
  (void)state;
  setenv("STRATA_SCHEDULER_TIMEOUT_MS", "5000", 1);
  setenv("STRATA_STREAM_SYNC_TIMEOUT_MS", "2000", 1);
  capture_begin();
  strata_chip_config c;
  for (int i = 0; i < 3; i++) strata_chip_config_init(&c);
  strata_node_config n;
  strata_node_config_init(&n);
  strata_chip *chip = NULL;
  assert_int_equal(strata_chip_create(NULL, &chip), 0);
  assert_int_equal(capture_count("STRATA_STREAM_SYNC_TIMEOUT_MS=2000 is not above "
                                 "STRATA_SCHEDULER_TIMEOUT_MS=5000"), 1);
  assert_int_equal(strata_chip_get_config(chip)->scheduler_timeout_ms, 10000);
  assert_int_equal(strata_chip_get_config(chip)->stream_sync_timeout_ms, 50000);
  assert_int_equal(c.scheduler_timeout_ms, 10000);
  assert_int_equal(n.chip.stream_sync_timeout_ms, 50000);
  assert_int_equal(strata_chip_destroy(chip), 0);
}

STRATA_TEST(simpler_aliases_are_read_and_strata_names_win) {
  (void)state;
  setenv("SIMPLER_SCHEDULER_TIMEOUT_MS", "20000", 1);
  setenv("SIMPLER_STREAM_SYNC_TIMEOUT_MS", "90000", 1);
  strata_chip_config c;
  strata_chip_config_init(&c);
  assert_int_equal(c.scheduler_timeout_ms, 20000);
  assert_int_equal(c.stream_sync_timeout_ms, 90000);
  setenv("STRATA_SCHEDULER_TIMEOUT_MS", "15000", 1);
  strata_chip_config_init(&c);
  assert_int_equal(c.scheduler_timeout_ms, 15000);
}

STRATA_TEST(invalid_environment_value_warns_once_per_process) {
  (void)state;
  setenv("STRATA_CLUSTERS", "lots", 1);
  capture_begin();
  strata_chip_config c;
  for (int i = 0; i < 5; i++) strata_chip_config_init(&c);
  strata_node_config n;
  strata_node_config_init(&n);
  assert_int_equal(capture_count("STRATA_CLUSTERS='lots' is invalid"), 1);
  assert_int_equal(c.clusters, 3); /* default kept */
}

STRATA_TEST(explicit_field_out_of_range_names_field_and_range) {
  (void)state;
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_TASK_WINDOW;
  c.task_window = 1000;
  strata_chip *chip = NULL;
  assert_int_equal(strata_chip_create(&c, &chip), STRATA_EINVAL);
  assert_non_null(strstr(strata_last_error(), "task_window is 1000"));
  assert_non_null(strstr(strata_last_error(), "power of two in 4..16777216"));
  uint64_t lo, hi;
  assert_int_equal(strata_chip_config_range(STRATA_CFG_CLUSTERS, &lo, &hi), 0);
  assert_int_equal(lo, 1);
  assert_int_equal(hi, 64);
  assert_int_equal(strata_chip_config_range(1ull << 40, &lo, &hi), STRATA_EINVAL);
}

STRATA_TEST(node_task_timeout_must_exceed_stream_sync) {
  (void)state;
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_TASK_TIMEOUT;
  c.task_timeout_ms = 30000; /* chips: 50 s stream sync */
  strata_node *n = NULL;
  assert_int_equal(strata_node_create(&c, &n), STRATA_EINVAL);
  assert_null(n);
  assert_non_null(strstr(strata_last_error(), "task_timeout_ms (30000)"));
  assert_non_null(strstr(strata_last_error(), "stream_sync_timeout_ms (50000)"));
  c.task_timeout_ms = 0; /* out of range: 0 is not "none" for the node */
  assert_int_equal(strata_node_create(&c, &n), STRATA_EINVAL);
  c.task_timeout_ms = 30000;
  c.chip.field_mask = STRATA_CFG_SYNC_TIMEOUT;
  c.chip.stream_sync_timeout_ms = 20000;
  assert_int_equal(strata_node_create(&c, &n), 0);
  strata_node_close(n);
}

STRATA_TEST_MAIN(TEST_LIST)

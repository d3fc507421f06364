/* test_platform.c - error table, environment parsing, futex events,
 * allocation-failure injection, configuration and arena reservation. */
#include <pthread.h>
#include <unistd.h>

#include "platform/event.h"
#include "platform/platform_int.h"
#include "platform/trace_rec.h"
#include "strata/trace.h"
#include "util.h"
#include "test_platform_list.h"

STRATA_TEST(error_table_names_and_messages) {
  (void)state;
  assert_string_equal(strata_err_name(STRATA_OK), "OK");
  assert_string_equal(strata_err_name(STRATA_SCHEDULER_TIMEOUT), "SCHEDULER_TIMEOUT");
  assert_string_equal(strata_err_name(-999999), "UNKNOWN");
  assert_string_equal(strata_strerror(STRATA_EINVAL), "invalid argument");
  assert_string_equal(strata_strerror(12345), "unknown strata status");
  assert_int_equal(STRATA_EINVAL, -22);
  assert_int_equal(STRATA_ETIMEDOUT, -110);
  assert_true(STRATA_INPROGRESS > 0);
}

STRATA_TEST(chip_codes_map_to_spec_numbers) {
  (void)state;
  assert_int_equal(strata_chip_code(STRATA_SCOPE_DEADLOCK), 1);
  assert_int_equal(strata_chip_code(STRATA_TENSOR_WAIT_TIMEOUT), 8);
  assert_int_equal(strata_chip_code(STRATA_SCOPE_TASKS_OVERFLOW), 10);
  assert_int_equal(strata_chip_code(STRATA_SCHEDULER_TIMEOUT), 100);
  assert_int_equal(strata_chip_code(STRATA_STREAM_SYNC_TIMEOUT), 0);
  assert_int_equal(strata_chip_code(STRATA_EINVAL), 0);
}

STRATA_TEST(env_parsing_warns_and_keeps_default) {
  (void)state;
  setenv("STRATA_T_X", "4096", 1);
  assert_int_equal(strata__env_u64("STRATA_T_X", 7, 1, 1u << 20, 1), 4096);
  setenv("STRATA_T_X", "2M", 1);
  assert_int_equal(strata__env_u64("STRATA_T_X", 7, 1, 1u << 30, 0), 2u << 20);
  setenv("STRATA_T_X", "100", 1); /* not a power of two */
  assert_int_equal(strata__env_u64("STRATA_T_X", 7, 1, 1u << 20, 1), 7);
  setenv("STRATA_T_X", "12abc", 1);
  assert_int_equal(strata__env_u64("STRATA_T_X", 7, 1, 1u << 20, 0), 7);
  setenv("STRATA_T_X", "-5", 1);
  assert_int_equal(strata__env_u64("STRATA_T_X", 7, 1, 1u << 20, 0), 7);
  unsetenv("STRATA_T_X");
  assert_int_equal(strata__env_u64("STRATA_T_X", 9, 1, 10, 0), 9);
}

STRATA_TEST(pto2_env_configures_rings) {
  (void)state;
  setenv("PTO2_RING_TASK_WINDOW", "1024", 1);
  setenv("PTO2_RING_HEAP", "4294967296", 1);
  setenv("PTO2_RING_DEP_POOL", "zero", 1); /* invalid: default kept */
  strata_chip_config c;
  strata_chip_config_init(&c);
  assert_int_equal(c.task_window, 1024);
  assert_int_equal(c.heap_bytes, 4294967296ull);
  assert_int_equal(c.dep_pool, 16384);
  setenv("PTO2_RING_TASK_WINDOW", "1000", 1); /* not a power of two */
  strata_chip_config_init(&c);
  assert_int_equal(c.task_window, 16384);
  unsetenv("PTO2_RING_TASK_WINDOW");
  unsetenv("PTO2_RING_HEAP");
  unsetenv("PTO2_RING_DEP_POOL");
}

STRATA_TEST(invalid_explicit_config_is_einval) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_TASK_WINDOW, &c.task_window, 100);
  strata_chip *chip = NULL;
  assert_int_equal(strata_chip_create(&c, &chip), STRATA_EINVAL);
  assert_null(chip);
  assert_non_null(strstr(strata_last_error(), "PTO2_RING_TASK_WINDOW"));
}

static void *signal_later(void *arg) {
  sleep_ms(50);
  strata__event_signal(arg);
  return NULL;
}

/* The number syntax shared by environment variables and CLI options. */
STRATA_TEST(numbers_parse_with_suffixes_and_reject_junk) {
  (void)state;
  uint64_t v = 0;
  assert_int_equal(strata_parse_u64("4096", &v), 0);
  assert_int_equal(v, 4096);
  assert_int_equal(strata_parse_u64("4G", &v), 0);
  assert_int_equal(v, 4ull << 30);
  assert_int_equal(strata_parse_u64("64k", &v), 0);
  assert_int_equal(v, 64ull << 10);
  const char *bad[] = {"", "-1", "x", "12x", "1KB", "99999999999999999999", "17179869184G"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = 5;
    assert_int_equal(strata_parse_u64(bad[i], &v), STRATA_EINVAL);
    assert_int_equal(v, 5);
    assert_non_null(strstr(strata_last_error(), "whole number"));
  }
  assert_int_equal(strata_parse_u64(NULL, &v), STRATA_EINVAL);
}

/* test.sh counts only the /dev/shm entries its own run created, by tag. */
STRATA_TEST(shm_names_carry_the_run_tag) {
  (void)state;
  char a[96], b[96], want[64];
  unsetenv("STRATA_SHM_TAG");
  strata__shm_name(a, sizeof(a), "ctl");
  snprintf(want, sizeof(want), "/strata-%d-", (int)getpid());
  assert_int_equal(strncmp(a, want, strlen(want)), 0);
  assert_non_null(strstr(a, "-ctl"));
  setenv("STRATA_SHM_TAG", "t12/3;x", 1); /* only letters and digits are kept */
  strata__shm_name(b, sizeof(b), "dom7");
  assert_string_not_equal(a, b);
  assert_non_null(strstr(b, "-dom7-t123x"));
  assert_int_equal(b[strlen(b) - 1], 'x');
}

/* STRATA_FAULT_INIT_DELAY_MS syntax: strict, with the syntax in the error. */
STRATA_TEST(init_delay_spec_is_parsed_strictly) {
  (void)state;
  uint32_t ms = 99;
  assert_int_equal(strata_fault_init_delay_parse("1:300,*:50", 1, &ms), 0);
  assert_int_equal(ms, 300);
  assert_int_equal(strata_fault_init_delay_parse("1:300,*:50", 4, &ms), 0);
  assert_int_equal(ms, 50);
  assert_int_equal(strata_fault_init_delay_parse("tail:2:1000:7", 1, &ms), 0);
  assert_int_equal(ms, 0); /* only rank 2 is delayed */
  assert_int_equal(strata_fault_init_delay_parse("tail:2:1000:7", 2, &ms), 0);
  assert_true(ms > 0);
  assert_int_equal(strata_fault_init_delay_parse("longtail:800", 0, &ms), 0);
  assert_true(ms <= 800);
  assert_int_equal(strata_fault_init_delay_parse("none", 0, &ms), 0);
  assert_int_equal(ms, 0);
  const char *bad[] = {"garbage", "1:", "1:2x", "tail:1", "longtail:", "1:2,,3:4", "*:x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ms = 77;
    assert_int_equal(strata_fault_init_delay_parse(bad[i], 0, &ms), STRATA_EINVAL);
    assert_int_equal(ms, 77);
    assert_non_null(strstr(strata_last_error(), "tail:<rank>:<median_ms>"));
  }
}

STRATA_TEST(event_times_out_then_wakes_on_signal) {
  (void)state;
  strata__event ev;
  strata__event_init(&ev, 0);
  uint64_t t0 = now_ns();
  assert_int_equal(strata__event_wait(&ev, strata__event_read(&ev), t0 + 30000000ull),
                   STRATA_ETIMEDOUT);
  assert_true(ms_since(t0) >= 29);
  pthread_t th;
  uint32_t seen = strata__event_read(&ev);
  pthread_create(&th, NULL, signal_later, &ev);
  t0 = now_ns();
  int rc = 0;
  while (strata__event_read(&ev) == seen && ms_since(t0) < 5000)
    rc = strata__event_wait(&ev, seen, now_ns() + 5000000000ull);
  assert_int_equal(rc, 0);
  assert_int_not_equal(strata__event_read(&ev), seen);
  assert_true(ms_since(t0) < 5000);
  pthread_join(th, NULL);
}

STRATA_TEST(allocation_failures_are_reported_not_fatal) {
  (void)state;
  for (long n = 0; n < 8; n++) {
    strata__alloc_fail_after(n);
    strata_chip *chip = NULL;
    int rc = strata_chip_create(NULL, &chip);
    strata__alloc_fail_after(-1);
    if (rc == 0) {
      assert_int_equal(strata_chip_destroy(chip), 0);
      continue;
    }
    assert_int_equal(rc, STRATA_ENOMEM);
    assert_null(chip);
    assert_true(strlen(strata_last_error()) > 0);
  }
}

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

STRATA_TEST(arena_is_reserved_not_touched) {
  (void)state;
  strata_chip_config c = cfg_small();
  c.field_mask |= STRATA_CFG_HEAP_BYTES | STRATA_CFG_TASK_WINDOW | STRATA_CFG_DEP_POOL;
  c.heap_bytes = 4ull << 30; /* 4 GiB per ring, 16 GiB in all */
  c.task_window = 131072;
  c.dep_pool = 131072;
  long before = rss_kib();
  strata_chip *chip = chip_new(&c);
  long grown = rss_kib() - before;
  fprintf(stderr, "rss grew by %ld KiB\n", grown);
  assert_true(grown < 64 * 1024); /* the ready queues only, not the heaps */
  assert_int_equal(strata_chip_destroy(chip), 0);
}

STRATA_TEST(init_delay_fault_slows_create) {
  (void)state;
  strata_chip_config c = cfg_small();
  cfg_set(&c, STRATA_CFG_INIT_DELAY, &c.init_delay_ms, 150);
  uint64_t t0 = now_ns();
  strata_chip *chip = chip_new(&c);
  assert_true(ms_since(t0) >= 150);
  assert_int_equal(strata_chip_destroy(chip), 0);
}

/* A rank's trace is written on rank 0's clock: the offset measured over MPI
 * moves every timestamp when the file is merged. */
STRATA_TEST(trace_offset_moves_timestamps_to_rank_0s_clock) {
  (void)state;
  const char *path = "t-offset.json";
  const int64_t off_ns = 5000000000LL; /* rank 0's clock 5 s ahead of ours */
  assert_int_equal(strata_trace_start(path, 1), 0);
  uint64_t t0 = now_ns();
  strata__trace_instant("offset-mark", "a test event", 0, STRATA_TT_LEVEL);
  uint64_t t1 = now_ns();
  strata__trace_set_clock_offset(off_ns);
  assert_int_equal(strata_trace_stop(), 0);
  strata__trace_set_clock_offset(0);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[4096];
  double ts = -1;
  while (fgets(line, sizeof(line), f))
    if (strstr(line, "offset-mark") && strstr(line, "\"ts\":"))
      ts = strtod(strstr(line, "\"ts\":") + 5, NULL);
  fclose(f);
  unlink(path);
  assert_true(ts >= (double)(t0 + off_ns) / 1000.0 - 0.01);
  assert_true(ts <= (double)(t1 + off_ns) / 1000.0 + 0.01);
}

STRATA_TEST_MAIN(TEST_LIST)

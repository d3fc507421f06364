/* util.h - helpers shared by the chip tests: small chip configurations,
 * a few generic kernels, and assertions on run outcomes. */
#ifndef STRATA_TEST_UTIL_H
#define STRATA_TEST_UTIL_H

#include <dirent.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "strata.h"

/* A small chip: 2 schedulers, 2 clusters, short budgets unless overridden. */
static inline strata_chip_config cfg_small(void) {
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SCHED_THREADS | STRATA_CFG_CLUSTERS | STRATA_CFG_SYNC_TIMEOUT;
  c.sched_threads = 2;
  c.clusters = 2;
  c.stream_sync_timeout_ms = 60000;
  return c;
}

static inline void cfg_set(strata_chip_config *c, uint64_t bit, uint32_t *field, uint32_t v) {
  c->field_mask |= bit;
  *field = v;
}

static inline strata_chip *chip_new(const strata_chip_config *c) {
  strata_chip *chip = NULL;
  int rc = strata_chip_create(c, &chip);
  if (rc) fprintf(stderr, "chip_create: %s: %s\n", strata_err_name(rc), strata_last_error());
  assert_int_equal(rc, 0);
  return chip;
}

static inline uint32_t kernel_new(strata_chip *chip, const char *name, strata_kernel_fn fn,
                                  strata_core_kind kind) {
  uint32_t id = 0;
  assert_int_equal(strata_chip_register_kernel(chip, name, fn, kind, &id), 0);
  return id;
}

/* A time bound of a test x STRATA_TEST_TIME_SCALE (set by ctest: 2 under
 * ASan+UBSan, 3 under TSan; tests/CMakeLists.txt). */
static inline uint32_t scaled_ms(uint32_t ms) {
  const char *s = getenv("STRATA_TEST_TIME_SCALE");
  long k = s ? strtol(s, NULL, 10) : 1;
  return ms * (uint32_t)(k >= 1 && k <= 100 ? k : 1);
}

static inline uint64_t ms_since(uint64_t t0_ns) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0_ns) / 1000000ull;
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Entries of /dev/shm created by this process (names start with
 * "strata-<pid>-"): leak checks must not count other tests running in
 * parallel. scripts/test.sh checks for any strata entry after the suite. */
static inline int shm_strata_entries(void) {
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "strata-%d-", (int)getpid());
  int k = 0;
  DIR *d = opendir("/dev/shm");
  for (struct dirent *e; d && (e = readdir(d));) k += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  if (d) closedir(d);
  return k;
}

/* A kernel that does nothing. */
static inline void k_nop(strata_kernel_ctx *k) { (void)k; }

/* A kernel that sleeps scalar 0 milliseconds (in 1 ms steps, cancellable). */
static inline void k_sleep(strata_kernel_ctx *k) {
  uint64_t ms = strata_kernel_scalar(k, 0);
  for (uint64_t i = 0; i < ms && !strata_kernel_cancelled(k); i++) sleep_ms(1);
}

/* A kernel that never finishes unless the run is cancelled. */
static inline void k_hang(strata_kernel_ctx *k) {
  while (!strata_kernel_cancelled(k)) sleep_ms(1);
}

/* ---- level trees (test_level, test_mpi) ---------------------------------------- */
/* t1 = t0 + s0 (doubles); t0 absent (another rank's buffer, test_mpi): t1 += s0. */
static inline void k_add_f64(strata_kernel_ctx *k) {
  const strata_tensor *x = strata_kernel_tensor(k, 0), *y = strata_kernel_tensor(k, 1);
  double *out = y->data;
  for (size_t i = 0; i < y->bytes / 8; i++)
    out[i] = (x->data ? ((const double *)x->data)[i] : out[i]) + strata_kernel_scalar_f64(k, 0);
}

/* A chip orchestration: one task of `kernel` over the node task's args. */
static inline void orch_one_kernel(strata_orch *o, uint32_t kernel, const strata_args *na) {
  strata_args a = *na;
  a.ndeps = 0;
  strata_orch_submit(o, kernel, &a, NULL);
}

/* A level orchestration run by an L3 for its L4: the task's args again, as
 * chip orchestration `orch` on the L3's chip scalar 1. A tensor of another
 * rank arrives as NULL (it ordered the task at the L4, it is not data here):
 * a NO_DEP stand-in (the last tensor, unused) keeps the positions. */
static inline void level_forward(strata_node_orch *o, uint32_t orch, const strata_args *na) {
  strata_args a = *na;
  a.ndeps = 0;
  for (uint32_t i = 0; i < a.ntensors; i++)
    if (!a.tensors[i].data) a.tags[i] = STRATA_NO_DEP, a.tensors[i] = a.tensors[a.ntensors - 1];
  strata_node_submit_chip(o, (uint32_t)a.scalars[1], orch, &a, NULL);
}

/* Run and print the outcome when it differs from `want`. */
static inline int run_expect(strata_chip *chip, strata_orch_fn fn, void *arg,
                             strata_run_info *info, int want) {
  int rc = strata_chip_run(chip, fn, arg, info);
  if (rc != want)
    fprintf(stderr, "run: got %s (%d), want %s: %s\n", strata_err_name(rc), rc,
            strata_err_name(want), info->message);
  assert_int_equal(rc, want);
  assert_int_equal(info->status, rc);
  return rc;
}

#endif

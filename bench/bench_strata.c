/* bench_strata.c - tiny-task throughput of the strata chip runtime. The
 * chip shape comes from the environment (STRATA_SCHED_THREADS,
 * STRATA_CLUSTERS), so bench/run.sh can compare shapes. */
#include <stdatomic.h>

#include "bench.h"
#include "strata.h"

static _Atomic uint64_t hits;
static int64_t cell, ys[FAN_W];
static uint32_t K;

static void k_tiny(strata_kernel_ctx *k) {
  (void)k;
  atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
}

typedef struct job {
  const char *w;
  uint64_t n;
} job;

static void submit(strata_orch *o, strata_args *a) { strata_orch_submit(o, K, a, NULL); }

static void fan_group(strata_orch *o, strata_tensor *x, strata_tensor *y) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INOUT, x);
  submit(o, &a);
  for (int i = 0; i < FAN_W; i++) {
    strata_args_init(&a);
    strata_args_tensor(&a, STRATA_INPUT, x);
    strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &y[i]);
    submit(o, &a);
  }
  strata_args_init(&a);
  for (int i = 0; i < FAN_W; i++) strata_args_tensor(&a, STRATA_INPUT, &y[i]);
  strata_args_tensor(&a, STRATA_INOUT, x);
  submit(o, &a);
}

static void orch(strata_orch *o, void *arg) {
  job *j = arg;
  strata_tensor x = strata_tensor_external(&cell, 8, STRATA_DT_I64), y[FAN_W];
  for (int i = 0; i < FAN_W; i++) y[i] = strata_tensor_external(&ys[i], 8, STRATA_DT_I64);
  strata_args a;
  if (strcmp(j->w, "fan") == 0) {
    for (uint64_t g = 0; g < fan_groups(j->n); g++) fan_group(o, &x, y);
    return;
  }
  int chain = strcmp(j->w, "chain") == 0;
  for (uint64_t i = 0; i < j->n; i++) {
    strata_args_init(&a);
    if (chain) strata_args_tensor(&a, STRATA_INOUT, &x);
    submit(o, &a);
  }
}

int main(int argc, char **argv) {
  job j;
  if (bench_args(argc, argv, &j.w, &j.n)) return 2;
  strata_chip_config c;
  strata_chip_config_init(&c);
  c.field_mask = STRATA_CFG_SYNC_TIMEOUT;
  c.stream_sync_timeout_ms = 0;
  strata_chip *chip;
  if (strata_chip_create(&c, &chip) != 0) return 1;
  strata_chip_register_kernel(chip, "tiny", k_tiny, STRATA_CORE_AIV, &K);
  strata_run_info info;
  double t0 = bench_now();
  int rc = strata_chip_run(chip, orch, &j, &info);
  double dt = bench_now() - t0;
  uint64_t tasks = info.tasks_completed;
  bench_report("strata", j.w, tasks, dt, rc == 0 && atomic_load(&hits) == tasks);
  strata_chip_destroy(chip);
  return rc == 0 ? 0 : 1;
}

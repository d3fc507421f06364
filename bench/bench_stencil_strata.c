/* bench_stencil_strata.c - the stencil (stencil.h) on one strata chip: one
 * AIV kernel per cell, dependencies found by the runtime from the tensors'
 * byte ranges. The chip shape comes from the environment
 * (STRATA_SCHED_THREADS, STRATA_CLUSTERS), so the run script sweeps shapes. */
#include "stencil.h"
#include "strata.h"

static int64_t rows[2 * STENCIL_W];
static uint32_t K;

static void k_cell(strata_kernel_ctx *k) {
  stencil_task(rows, (int)strata_kernel_scalar(k, 0), (int)strata_kernel_scalar(k, 1),
               strata_kernel_scalar(k, 2));
}

typedef struct job {
  int steps;
  uint64_t iters;
} job;

static void orch(strata_orch *o, void *arg) {
  const job *j = arg;
  strata_tensor all = strata_tensor_external(rows, sizeof(rows), STRATA_DT_I64);
  for (int t = 0; t < j->steps; t++)
    for (int i = 0; i < STENCIL_W; i++) {
      strata_args a;
      strata_args_init(&a);
      size_t p = (size_t)((t + 1) & 1) * STENCIL_W, c = (size_t)(t & 1) * STENCIL_W;
      size_t l = i > 0 ? (size_t)i - 1 : (size_t)i, r = i < STENCIL_W - 1 ? (size_t)i + 1 : (size_t)i;
      /* views of one buffer: row t-1's cells l..r in, cell (t, i) out */
      strata_tensor in = strata_tensor_view(&all, (p + l) * 8, (r - l + 1) * 8);
      strata_tensor out = strata_tensor_view(&all, (c + (size_t)i) * 8, 8);
      if (t > 0) strata_args_tensor(&a, STRATA_INPUT, &in);
      strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &out);
      strata_args_scalar(&a, (uint64_t)t);
      strata_args_scalar(&a, (uint64_t)i);
      strata_args_scalar(&a, j->iters);
      strata_orch_submit(o, K, &a, NULL);
    }
}

int main(int argc, char **argv) {
  job j;
  if (stencil_args(argc, argv, &j.steps, &j.iters)) return 2;
  strata_chip_config c;
  strata_chip_config_init(&c);
  strata_chip *chip;
  if (strata_chip_create(&c, &chip) != 0) return 1;
  strata_chip_register_kernel(chip, "cell", k_cell, STRATA_CORE_AIV, &K);
  strata_run_info info;
  job warm = {1, 0}; /* the first run starts the chip's threads: not timed */
  strata_chip_run(chip, orch, &warm, &info);
  double t0 = stencil_now();
  int rc = strata_chip_run(chip, orch, &j, &info);
  double dt = stencil_now() - t0;
  if (rc != 0) fprintf(stderr, "strata: %s\n", info.message);
  stencil_report("strata", j.steps, dt, rc == 0 && stencil_check(rows, j.steps));
  strata_chip_destroy(chip);
  return rc == 0 ? 0 : 1;
}

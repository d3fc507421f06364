/* bench_stencil_starpu.c - the stencil (stencil.h) on StarPU: one variable
 * handle per cell of the two rows, tasks inserted with R/W access modes
 * (StarPU derives the dependencies, including write-after-read). The
 * scheduler comes from STARPU_SCHED, so the run script tries them all. */
#include <starpu.h>

#include "stencil.h"

static int64_t rows[2 * STENCIL_W];

static void cell_cpu(void *buffers[], void *cl_arg) {
  (void)buffers;
  int t, i;
  uint64_t iters;
  starpu_codelet_unpack_args(cl_arg, &t, &i, &iters);
  stencil_task(rows, t, i, iters);
}

static struct starpu_codelet cl = {
    .cpu_funcs = {cell_cpu}, .nbuffers = STARPU_VARIABLE_NBUFFERS, .name = "cell"};

static void insert(starpu_data_handle_t *h, int t, int i, uint64_t iters) {
  struct starpu_data_descr d[4];
  int n = 0;
  d[n++] = (struct starpu_data_descr){h[(t & 1) * STENCIL_W + i], STARPU_W};
  for (int j = i - 1; t > 0 && j <= i + 1; j++)
    if (j >= 0 && j < STENCIL_W) d[n++] = (struct starpu_data_descr){h[((t - 1) & 1) * STENCIL_W + j], STARPU_R};
  starpu_task_insert(&cl, STARPU_DATA_MODE_ARRAY, d, n, STARPU_VALUE, &t, sizeof(t), STARPU_VALUE,
                     &i, sizeof(i), STARPU_VALUE, &iters, sizeof(iters), 0);
}

int main(int argc, char **argv) {
  int steps;
  uint64_t iters;
  if (stencil_args(argc, argv, &steps, &iters)) return 2;
  if (starpu_init(NULL) != 0) return 77;
  starpu_data_handle_t h[2 * STENCIL_W];
  for (int k = 0; k < 2 * STENCIL_W; k++)
    starpu_variable_data_register(&h[k], STARPU_MAIN_RAM, (uintptr_t)&rows[k], sizeof(rows[k]));
  double t0 = stencil_now();
  for (int t = 0; t < steps; t++)
    for (int i = 0; i < STENCIL_W; i++) insert(h, t, i, iters);
  starpu_task_wait_for_all();
  double dt = stencil_now() - t0;
  for (int k = 0; k < 2 * STENCIL_W; k++) starpu_data_unregister(h[k]);
  stencil_report("starpu", steps, dt, stencil_check(rows, steps));
  starpu_shutdown();
  return 0;
}

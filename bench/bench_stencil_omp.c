/* bench_stencil_omp.c - the stencil (stencil.h) as OpenMP tasks with depend
 * clauses, created by one thread of a parallel region. `calibrate` prints
 * the compute loop's iterations per microsecond for the run script. */
#include <omp.h>

#include "stencil.h"

static void calibrate(void) {
  double best = 1e9;
  uint64_t n = 20000000, sink = 0;
  for (int r = 0; r < 5; r++) {
    double t0 = stencil_now();
    sink += stencil_spin(n, (uint64_t)r);
    double dt = stencil_now() - t0;
    best = dt < best ? dt : best;
  }
  printf("iters_per_us=%.3f%s\n", (double)n / (best * 1e6), sink == 1 ? " " : "");
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "calibrate") == 0) return calibrate(), 0;
  int steps;
  uint64_t iters;
  if (stencil_args(argc, argv, &steps, &iters)) return 2;
  static int64_t rows[2 * STENCIL_W];
#pragma omp parallel /* start the thread pool: not timed */
  rows[0] = 0;
  double t0 = stencil_now();
#pragma omp parallel
#pragma omp single
  for (int t = 0; t < steps; t++)
    for (int i = 0; i < STENCIL_W; i++) {
      int64_t *o = &stencil_row(rows, t)[i], *p = &stencil_row(rows, t + 1)[i];
      int l = i > 0 ? -1 : 0, r = i < STENCIL_W - 1 ? 1 : 0;
      (void)o; /* used only in depend clauses, which GCC does not count as uses */
      (void)p;
      (void)l;
      (void)r;
#pragma omp task depend(in : p[l], p[0], p[r]) depend(out : o[0])
      stencil_task(rows, t, i, iters);
    }
  double dt = stencil_now() - t0;
  stencil_report("openmp", steps, dt, stencil_check(rows, steps));
  return 0;
}

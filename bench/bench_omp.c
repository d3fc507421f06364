/* bench_omp.c - the same tiny-task workloads as OpenMP tasks with depend
 * clauses, created by one thread inside a parallel region. */
#include <omp.h>
#include <stdatomic.h>

#include "bench.h"

static _Atomic uint64_t hits;

static void tiny(void) { atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed); }

static void fan(uint64_t n, int64_t *x, int64_t *y) {
  (void)x; /* used only in depend clauses, which GCC does not count as uses */
  (void)y;
  for (uint64_t g = 0; g < fan_groups(n); g++) {
#pragma omp task depend(inout : x[0])
    tiny();
    for (int i = 0; i < FAN_W; i++) {
#pragma omp task depend(in : x[0]) depend(out : y[i])
      tiny();
    }
#pragma omp task depend(in : y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]) depend(inout : x[0])
    tiny();
  }
}

static void run(const char *w, uint64_t n, int64_t *x, int64_t *y) {
  (void)x;
  if (strcmp(w, "fan") == 0) return fan(n, x, y);
  int chain = strcmp(w, "chain") == 0;
  for (uint64_t i = 0; i < n; i++) {
    if (chain) {
#pragma omp task depend(inout : x[0])
      tiny();
    } else {
#pragma omp task
      tiny();
    }
  }
}

int main(int argc, char **argv) {
  const char *w;
  uint64_t n;
  if (bench_args(argc, argv, &w, &n)) return 2;
  static int64_t x[1], y[FAN_W];
  double t0 = bench_now();
#pragma omp parallel
#pragma omp single
  run(w, n, x, y);
  double dt = bench_now() - t0;
  uint64_t tasks = strcmp(w, "fan") == 0 ? fan_groups(n) * (FAN_W + 2) : n;
  bench_report("openmp", w, tasks, dt, atomic_load(&hits) == tasks);
  return 0;
}

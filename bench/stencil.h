/* stencil.h - the Task-Bench style stencil shared by every implementation
 * (strata, StarPU, OpenMP, oneTBB): W columns, `steps` rows; task (t,i)
 * reads cells (t-1, i-1..i+1) and writes cell (t,i), then spins `iters`
 * iterations of a compute loop (the task granularity, calibrated by the
 * run script). The cells carry a checksum so every peer is checked against
 * the same serial reference. Usable from C and C++. */
#ifndef STRATA_BENCH_STENCIL_H
#define STRATA_BENCH_STENCIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

#define STENCIL_W 4
#define stencil_now bench_now

/* The task body's compute: `iters` dependent multiply-adds the compiler
 * cannot drop. Busy work, not a timed spin, so a preempted task costs. */
static inline uint64_t stencil_spin(uint64_t iters, uint64_t seed) {
  uint64_t x = seed | 1;
  for (uint64_t k = 0; k < iters; k++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  __asm__ __volatile__("" ::"r"(x)); /* the result is "used": the loop stays */
  return x;
}

/* Value of cell (t,i) from its inputs (row t-1, columns i-1..i+1). */
static inline int64_t stencil_cell(const int64_t *prev, int i, int t) {
  int64_t v = t * 131 + i;
  if (!prev) return v;
  for (int j = i - 1; j <= i + 1; j++)
    if (j >= 0 && j < STENCIL_W) v += prev[j] % 1000003;
  return v;
}

/* Rows live in two buffers of W cells used in turn: row t in rows[t % 2]
 * (a peer's dependency tracking sees the reuse as write-after-read). */
static inline int64_t *stencil_row(int64_t *rows, int t) { return rows + (t & 1) * STENCIL_W; }

/* The task: compute, then write cell (t,i) from row t-1 (none on row 0). */
static inline void stencil_task(int64_t *rows, int t, int i, uint64_t iters) {
  stencil_spin(iters, (uint64_t)(t * STENCIL_W + i));
  stencil_row(rows, t)[i] = stencil_cell(t ? stencil_row(rows, t - 1) : NULL, i, t);
}

/* Serial reference of the last row; 1 if `rows` holds it. */
static inline int stencil_check(int64_t *rows, int steps) {
  int64_t a[STENCIL_W], b[STENCIL_W];
  for (int t = 0; t < steps; t++) {
    for (int i = 0; i < STENCIL_W; i++) b[i] = stencil_cell(t ? a : NULL, i, t);
    memcpy(a, b, sizeof(a));
  }
  return memcmp(a, stencil_row(rows, steps - 1), sizeof(a)) == 0;
}

/* argv: <steps> <iters>. Returns 0 and fills, 2 on a usage error. */
static inline int stencil_args(int argc, char **argv, int *steps, uint64_t *iters) {
  if (argc < 3 || atoi(argv[1]) < 1) {
    fprintf(stderr, "usage: %s <steps >= 1> <iterations per task>\n", argv[0]);
    return 2;
  }
  *steps = atoi(argv[1]);
  *iters = strtoull(argv[2], NULL, 10);
  return 0;
}

static inline void stencil_report(const char *impl, int steps, double seconds, int ok) {
  printf("impl=%s tasks=%d seconds=%.6f check=%s\n", impl, steps * STENCIL_W, seconds,
         ok ? "ok" : "FAIL");
}

#endif

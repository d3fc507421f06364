/* bench.h - the three tiny-task workloads shared by every implementation
 * (strata, StarPU, OpenMP tasks), described once so all run the same graph:
 *   independent: N tasks, no dependencies;
 *   chain:       N tasks, each read-modify-writes one cell (serial);
 *   fan:         groups of root -> FAN_W parallel tasks -> join, chained.
 * Every kernel does the same tiny amount of work: one counter increment. */
#ifndef STRATA_BENCH_H
#define STRATA_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAN_W 8

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Tasks that the fan workload submits for about n requested tasks. */
static inline uint64_t fan_groups(uint64_t n) { return n / (FAN_W + 2); }

static inline void bench_report(const char *impl, const char *workload, uint64_t tasks,
                                double seconds, int ok) {
  printf("impl=%s workload=%s tasks=%llu seconds=%.6f tasks_per_sec=%.0f check=%s\n", impl,
         workload, (unsigned long long)tasks, seconds, (double)tasks / seconds,
         ok ? "ok" : "FAIL");
}

/* argv: <workload> <tasks>; returns 0 and fills on success. */
static inline int bench_args(int argc, char **argv, const char **w, uint64_t *n) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s independent|chain|fan <tasks>\n", argv[0]);
    return 2;
  }
  *w = argv[1];
  *n = strtoull(argv[2], NULL, 10);
  return 0;
}

#endif

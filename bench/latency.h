/* latency.h - round-trip sample collection and percentile reporting shared
 * by the ping-pong benchmarks. */
#ifndef STRATA_BENCH_LATENCY_H
#define STRATA_BENCH_LATENCY_H

#include "bench.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sort the samples (seconds) and print p50/p99 in microseconds. */
static inline void latency_report(const char *impl, double *s, int n) {
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  printf("impl=%s round_trips=%d rtt_p50_us=%.2f rtt_p99_us=%.2f\n", impl, n,
         s[n / 2] * 1e6, s[(int)(n * 0.99)] * 1e6);
}

#endif

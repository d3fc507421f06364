/* bench_memcpy.c - single-thread memcpy bandwidth over 64 MiB: the bound
 * for any shared-memory collective on this machine. */
#include "bench.h"

int main(void) {
  size_t bytes = 64u << 20;
  char *a = malloc(bytes), *b = malloc(bytes);
  memset(a, 1, bytes);
  memset(b, 2, bytes);
  memcpy(b, a, bytes); /* warm-up */
  double t0 = bench_now();
  for (int i = 0; i < 10; i++) memcpy(i % 2 ? a : b, i % 2 ? b : a, bytes);
  double t = (bench_now() - t0) / 10;
  printf("impl=memcpy bytes=%zu bw_gbs=%.3f\n", bytes, bytes / t / 1e9);
  free(a);
  free(b);
  return 0;
}

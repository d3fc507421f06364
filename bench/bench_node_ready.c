/* bench_node_ready.c - time from strata_node_create to the end of
 * strata_node_init (every chip child INIT_DONE) for a node of N chips, with
 * the ring heap size taken from PTO2_RING_HEAP. */
#include "bench.h"
#include "strata.h"

int main(int argc, char **argv) {
  uint32_t chips = argc > 1 ? (uint32_t)atoi(argv[1]) : 8;
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS;
  c.chips = chips;
  strata_node *n;
  double t0 = bench_now();
  if (strata_node_create(&c, &n) || strata_node_init(n)) {
    fprintf(stderr, "node: %s\n", strata_last_error());
    return 1;
  }
  double dt = bench_now() - t0;
  printf("chips=%u heap_bytes=%llu ready_ms=%.2f\n", chips,
         (unsigned long long)c.chip.heap_bytes, dt * 1e3);
  strata_node_close(n);
  return 0;
}

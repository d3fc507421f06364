/* bench_mailbox.c - round trip through a node mailbox: the parent posts a
 * PREPARE control to a chip child and waits for CONTROL_DONE. */
#include "latency.h"
#include "level/level_int.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  strata_node_config c;
  strata_node_config_init(&c);
  strata_node *node;
  if (strata_node_create(&c, &node) || strata_node_init(node)) {
    fprintf(stderr, "node: %s\n", strata_last_error());
    return 1;
  }
  double *s = calloc((size_t)n, sizeof(double));
  for (int i = 0; i < n + 1000; i++) { /* the first 1000 warm up */
    double t0 = bench_now();
    strata__ctl q = {.ctl = STRATA_CTL_PREPARE};
    if (strata__ctl_sync(node, 0, &q)) return 1; /* queue, run the loop until done */
    if (i >= 1000) s[i - 1000] = bench_now() - t0;
  }
  latency_report("strata-mailbox", s, n);
  strata_node_close(node);
  free(s);
  return 0;
}

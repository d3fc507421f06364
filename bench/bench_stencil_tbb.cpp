// bench_stencil_tbb.cpp - the stencil (stencil.h) as a oneTBB flow graph:
// one continue_node per cell, edges from (t-1, i-1..i+1) to (t, i), the
// roots of row 0 started by try_put. The graph is built before timing (the
// other peers discover dependencies while running; building is cheap here).
#include <tbb/flow_graph.h>

#include <memory>
#include <vector>

#include "stencil.h"

static int64_t rows[2 * STENCIL_W];

int main(int argc, char **argv) {
  int steps;
  uint64_t iters;
  if (stencil_args(argc, argv, &steps, &iters)) return 2;
  using node = tbb::flow::continue_node<tbb::flow::continue_msg>;
  tbb::flow::graph g;
  std::vector<std::unique_ptr<node>> n;
  n.reserve(static_cast<size_t>(steps) * STENCIL_W);
  for (int t = 0; t < steps; t++)
    for (int i = 0; i < STENCIL_W; i++) {
      n.emplace_back(new node(g, [t, i, iters](const tbb::flow::continue_msg &) {
        stencil_task(rows, t, i, iters);
      }));
      for (int j = i - 1; t > 0 && j <= i + 1; j++)
        if (j >= 0 && j < STENCIL_W)
          tbb::flow::make_edge(*n[static_cast<size_t>((t - 1) * STENCIL_W + j)], *n.back());
    }
  double t0 = stencil_now();
  for (int i = 0; i < STENCIL_W; i++) n[static_cast<size_t>(i)]->try_put(tbb::flow::continue_msg());
  g.wait_for_all();
  double dt = stencil_now() - t0;
  stencil_report("tbb", steps, dt, stencil_check(rows, steps));
  return 0;
}

#!/usr/bin/env bash
# run_matmul_views.sh - tiled matmul cost per task with tiles as views of one
# buffer per matrix vs one buffer per tile (same DAG), interleaved runs,
# median [min-max] us per task and the views/tiles ratio of the medians.
#   bench/run_matmul_views.sh [repeats=11] [tiles per side="16 32"]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
REPEATS=${1:-11}
SIDES=${2:-"16 32"}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for nt in $SIDES; do
  for _ in $(seq "$REPEATS"); do
    for m in views tiles; do
      $B/bench_matmul_views $m "$nt" | sed -n 's/.*us_per_task=\([0-9.]*\) check=ok.*/\1/p' >> "$tmp/$m.$nt"
    done
  done
done
med() { bench_median "$1"; }
rng() { bench_cell "$1"; }
echo "| tiles per side (tasks) | views: us/task | one buffer per tile: us/task | views / tiles |"
echo "|---|---|---|---|"
for nt in $SIDES; do
  awk -v nt="$nt" -v v="$(rng "$tmp/views.$nt")" -v t="$(rng "$tmp/tiles.$nt")" -v a="$(med "$tmp/views.$nt")" -v b="$(med "$tmp/tiles.$nt")" \
    'BEGIN {printf "| %d (%d) | %s | %s | %.2f |\n", nt, nt * nt * nt, v, t, a / b}'
done

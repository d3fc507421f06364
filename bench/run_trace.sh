#!/usr/bin/env bash
# run_trace.sh - what tracing costs: tiny-task throughput (bench_strata,
# independent and chain graphs) of a build without the tracing code
# (STRATA_TRACE_COMPILED=OFF) against the normal build with tracing off and
# at levels 1, 2, 3 (writing the trace happens after the timed run).
# Interleaved runs; median [min, max] tasks/s and the ratio to the baseline.
#   bench/run_trace.sh [tasks=100000] [runs=11]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
N=${1:-100000}
RUNS=${2:-11}
cmake -S . -B build-bench-notrace -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON \
  -DSTRATA_BUILD_TESTS=OFF -DSTRATA_TRACE_COMPILED=OFF >/dev/null
cmake --build build-bench-notrace -j"$(nproc)" --target bench_strata >/dev/null
NT=build-bench-notrace/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rate() { # label env...: one run's tasks/s (appended to $tmp/<label>)
  local label=$1 bin=$2 w=$3; shift 3
  env "$@" "$bin/bench_strata" "$w" "$N" | sed -n 's/.*tasks_per_sec=\([0-9]*\).*check=ok.*/\1/p' \
    >> "$tmp/$label.$w"
}
stats() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}'; }

for w in independent chain; do
  for _ in $(seq "$RUNS"); do # interleaved: every configuration once per round
    rate base "$NT" "$w" X=1
    rate off "$B" "$w" X=1
    for l in 1 2 3; do rate "l$l" "$B" "$w" STRATA_TRACE="$tmp/t.json" STRATA_TRACE_LEVEL=$l; done
  done
done
echo "| workload | configuration | tasks/s: median [min, max] | / no tracing code |"
echo "|---|---|---|---|"
for w in independent chain; do
  read -r b _ _ < <(stats "$tmp/base.$w")
  for c in base off l1 l2 l3; do
    read -r m lo hi < <(stats "$tmp/$c.$w")
    name=$(case $c in base) echo "build without tracing code";; off) echo "tracing compiled, off";;
           *) echo "STRATA_TRACE_LEVEL=${c#l}";; esac)
    awk -v w="$w" -v n="$name" -v m="$m" -v lo="$lo" -v hi="$hi" -v b="$b" \
      'BEGIN {printf "| %s | %s | %d [%d, %d] | %.3f |\n", w, n, m, lo, hi, m / b}'
  done
done

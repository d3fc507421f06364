#!/usr/bin/env bash
# run_nodedag.sh - the level engine's cost per task as the graph grows: a
# random node-level DAG of tiny chip tasks on 2 chips (`strata run nodedag`)
# at 1k, 10k and 100k tasks; median elapsed of REPEATS runs (100k: one run
# unless REPEATS_BIG is set), cost per task, and its ratio to the 1k cost.
#   bench/run_nodedag.sh [repeats=3] [repeats_big=1]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
REPEATS=${1:-3}
REPEATS_BIG=${2:-1}
stats() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}'; } # median min max
elapsed() { # tasks: elapsed_ms of one checked run
  build-release/strata run nodedag --tasks "$1" --chips 2 --json |
    sed -n 's/.*"check":true.*"elapsed_ms":\([0-9.]*\).*/\1/p'
}
echo "| tasks | runs | elapsed (ms): median [min, max] | cost per task (us), median | / cost at 1k |"
echo "|---|---|---|---|---|"
base=""
for n in 1000 10000 100000; do
  r=$REPEATS; [ "$n" -ge 100000 ] && r=$REPEATS_BIG
  read -r ms lo hi < <(for _ in $(seq "$r"); do elapsed "$n"; done | stats)
  [ -n "$ms" ] || { echo "nodedag --tasks $n failed its check" >&2; exit 1; }
  us=$(awk -v ms="$ms" -v n="$n" 'BEGIN {printf "%.1f", ms * 1000 / n}')
  [ -n "$base" ] || base=$us
  awk -v n="$n" -v r="$r" -v ms="$ms" -v lo="$lo" -v hi="$hi" -v us="$us" -v b="$base" \
    'BEGIN {printf "| %d | %d | %.0f [%.0f, %.0f] | %s | %.2f |\n", n, r, ms, lo, hi, us, us / b}'
done

#!/usr/bin/env bash
# run_nodedag.sh - the level engine at scale: a random node-level DAG of tiny
# chip tasks on 2 chips (`strata run nodedag`) at 1k, 10k, 100k (and 1M)
# tasks: median elapsed of REPEATS runs, cost per node task, peak RSS of the
# whole process tree's largest process (GNU time's %M, the parent that holds
# the engine), and the same graph as chip tasks of one chip (`strata run
# chipdag`, interleaved with it) for the ratio node task / chip task.
#   bench/run_nodedag.sh [repeats=3] [repeats_big=1] [with_1m=0]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
REPEATS=${1:-3}
REPEATS_BIG=${2:-1}
WITH_1M=${3:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stats() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}'; } # median min max
run() { # example tasks: "elapsed_ms peak_kb" of one checked run
  /usr/bin/time -f "%M" -o "$tmp/rss" build-release/strata run "$1" --tasks "$2" --chips 2 --json \
    > "$tmp/out" 2>/dev/null || true
  ms=$(sed -n 's/.*"check":true.*"elapsed_ms":\([0-9.]*\).*/\1/p' "$tmp/out")
  [ -n "$ms" ] || { echo "$1 --tasks $2 failed its check" >&2; exit 1; }
  echo "$ms $(cat "$tmp/rss")"
}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -r)"
echo "| tasks | runs | node run (ms): median [min, max] | us per node task | peak RSS (MB) | us per chip task (same DAG) | node / chip |"
echo "|---|---|---|---|---|---|---|"
sizes="1000 10000 100000"
[ "$WITH_1M" = 1 ] && sizes="$sizes 1000000"
for n in $sizes; do
  r=$REPEATS; [ "$n" -ge 100000 ] && r=$REPEATS_BIG
  : > "$tmp/node"; : > "$tmp/chip"; : > "$tmp/mem"
  for _ in $(seq "$r"); do
    read -r ms kb < <(run nodedag "$n"); echo "$ms" >> "$tmp/node"; echo "$kb" >> "$tmp/mem"
    read -r ms _ < <(run chipdag "$n"); echo "$ms" >> "$tmp/chip"
  done
  read -r ms lo hi < <(stats < "$tmp/node")
  read -r cms _ _ < <(stats < "$tmp/chip")
  read -r kb _ _ < <(stats < "$tmp/mem")
  awk -v n="$n" -v r="$r" -v ms="$ms" -v lo="$lo" -v hi="$hi" -v cms="$cms" -v kb="$kb" \
    'BEGIN {printf "| %d | %d | %.0f [%.0f, %.0f] | %.1f | %.1f | %.2f | %.0fx |\n", n, r, ms, lo,
            hi, ms * 1000 / n, kb / 1024, cms * 1000 / n, ms / cms}'
done

#!/usr/bin/env bash
# run.sh - tiny-task throughput of strata side by side with StarPU and
# OpenMP tasks (same graphs, same machine), median of REPEATS runs, printed
# as a Markdown table of tasks/s and strata/peer ratios.
#   bench/run.sh [tasks=100000] [repeats=5]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
N=${1:-100000}
REPEATS=${2:-5}
cpus=$(nproc)

median_rate() { # command...: median tasks_per_sec over REPEATS runs
  for _ in $(seq "$REPEATS"); do
    out=$("$@")
    case "$out" in *check=ok*) ;; *) echo "check failed: $out" >&2; exit 1 ;; esac
    echo "$out" | sed 's/.*tasks_per_sec=\([0-9]*\).*/\1/'
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "| workload | strata 3x3 | strata 1x1 | StarPU ($cpus CPU workers) | OpenMP ($cpus threads) | strata best / StarPU | strata best / OpenMP |"
echo "|---|---|---|---|---|---|---|"
for w in independent chain fan; do
  s3=$(median_rate $B/bench_strata "$w" "$N")
  s1=$(STRATA_SCHED_THREADS=1 STRATA_CLUSTERS=1 median_rate $B/bench_strata "$w" "$N")
  sp=$(STARPU_SILENT=1 STARPU_NCPU=$cpus STARPU_NCUDA=0 STARPU_NOPENCL=0 median_rate $B/bench_starpu "$w" "$N")
  om=$(OMP_NUM_THREADS=$cpus median_rate $B/bench_omp "$w" "$N")
  best=$(( s3 > s1 ? s3 : s1 ))
  awk -v w="$w" -v a="$s3" -v b="$s1" -v c="$sp" -v d="$om" -v e="$best" \
    'BEGIN {printf "| %s | %d | %d | %d | %d | %.2f | %.2f |\n", w, a, b, c, d, e / c, e / d}'
done

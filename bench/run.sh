#!/usr/bin/env bash
# run.sh - tiny-task throughput of strata side by side with StarPU (each of
# its schedulers tried; the best is reported) and OpenMP tasks (libgomp's
# default wait policy), same graphs, same machine. Runs are interleaved:
# every configuration once per round, REPEATS rounds; cells are the median
# [min-max] of tasks/s and ratios compare medians.
#   bench/run.sh [tasks=100000] [repeats=11]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
N=${1:-100000}
REPEATS=${2:-11}
cpus=$(nproc)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cpus CPUs, $(uname -r)"
configs=("strata-3x3" "strata-1x1" "starpu-lws" "starpu-eager" "starpu-ws" "starpu-dmda" "openmp")
run_cfg() { # config workload -> tasks/s
  case $1 in
    strata-3x3) $B/bench_strata "$2" "$N" ;;
    strata-1x1) STRATA_SCHED_THREADS=1 STRATA_CLUSTERS=1 $B/bench_strata "$2" "$N" ;;
    starpu-*) STARPU_SILENT=1 STARPU_NCPU=$cpus STARPU_NCUDA=0 STARPU_NOPENCL=0 STARPU_SCHED=${1#starpu-} $B/bench_starpu "$2" "$N" ;;
    openmp) OMP_NUM_THREADS=$cpus $B/bench_omp "$2" "$N" ;;
  esac | sed -n 's/.*tasks_per_sec=\([0-9]*\) check=ok.*/\1/p'
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for w in independent chain fan; do
  for _ in $(seq "$REPEATS"); do
    for c in "${configs[@]}"; do run_cfg "$c" "$w" >> "$tmp/$c.$w"; done
  done
done
med() { bench_median "$1"; }
cell() { bench_cell "$1" 1e6 | sed 's/ \[/M [/'; }
echo "| workload | strata 3x3 (default) | strata 1x1 | StarPU best (sched) | OpenMP | strata default / OpenMP | strata default / StarPU best |"
echo "|---|---|---|---|---|---|---|"
for w in independent chain fan; do
  best=""; bm=0
  for c in starpu-lws starpu-eager starpu-ws starpu-dmda; do
    m=$(med "$tmp/$c.$w"); [ "$m" -gt "$bm" ] && { bm=$m; best=$c; }
  done
  s=$(med "$tmp/strata-3x3.$w"); o=$(med "$tmp/openmp.$w")
  awk -v w="$w" -v a="$(cell "$tmp/strata-3x3.$w")" -v b="$(cell "$tmp/strata-1x1.$w")" \
      -v c="$(cell "$tmp/$best.$w") (${best#starpu-})" -v d="$(cell "$tmp/openmp.$w")" -v s="$s" -v o="$o" -v p="$bm" \
    'BEGIN {printf "| %s | %s | %s | %s | %s | %.2f | %.2f |\n", w, a, b, c, d, s / o, s / p}'
done

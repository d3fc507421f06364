#!/usr/bin/env bash
# run_stencil.sh - the Task-Bench style stencil granularity sweep (4 columns,
# task (t,i) after (t-1,i-1..i+1), each task computes for g microseconds) on
# strata's chip shapes, StarPU's schedulers, OpenMP tasks and oneTBB's flow
# graph. Runs are interleaved (every peer once per round); each cell shows
# the efficiency (task work / (wall x CPUs)) as median [min-max], and METG(50%)
# is the smallest g whose median efficiency is >= 0.5.
#   bench/run_stencil.sh [repeats=11] [grains_us="1000 200 100 50 20 10 5 2"]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
REPEATS=${1:-11}
GRAINS=${2:-"1000 200 100 50 20 10 5 2"}
cpus=$(nproc)
ipu=$($B/bench_stencil_omp calibrate | sed 's/iters_per_us=//')
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cpus CPUs, $(uname -r); compute loop $ipu iterations/us"
peers=("strata-3x3" "strata-1x1" "strata-3x3-nochain" "starpu-lws" "starpu-eager" "starpu-dmda" "openmp" "tbb")
run_peer() { # peer steps iters -> seconds
  case $1 in
    strata-3x3) $B/bench_stencil_strata "$2" "$3" ;;
    strata-1x1) STRATA_SCHED_THREADS=1 STRATA_CLUSTERS=1 $B/bench_stencil_strata "$2" "$3" ;;
    strata-3x3-nochain) STRATA_CHAIN=0 $B/bench_stencil_strata "$2" "$3" ;;
    starpu-*) STARPU_SILENT=1 STARPU_NCPU=$cpus STARPU_NCUDA=0 STARPU_NOPENCL=0 STARPU_SCHED=${1#starpu-} $B/bench_stencil_starpu "$2" "$3" ;;
    openmp) OMP_NUM_THREADS=$cpus $B/bench_stencil_omp "$2" "$3" ;;
    tbb) [ -x $B/bench_stencil_tbb ] && $B/bench_stencil_tbb "$2" "$3" || echo "seconds=0 check=ok" ;;
  esac | sed -n 's/.*seconds=\([0-9.]*\) check=ok.*/\1/p'
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for g in $GRAINS; do
  steps=$(( 100000 * cpus / (4 * g) )); [ $steps -lt 200 ] && steps=200; [ $steps -gt 40000 ] && steps=40000
  for _ in $(seq "$REPEATS"); do
    for p in "${peers[@]}"; do
      s=$(run_peer "$p" "$steps" $(awk -v g="$g" -v i="$ipu" 'BEGIN {printf "%d", g * i}'))
      [ -n "$s" ] && awk -v s="$s" -v n="$steps" -v g="$g" -v c="$cpus" 'BEGIN {if (s > 0) printf "%.3f\n", n * 4 * g / 1e6 / (s * c)}' >> "$tmp/$p.$g"
    done
  done
done
stat() { bench_cell "$1"; }
printf "| g (us) |"; for p in "${peers[@]}"; do printf " %s |" "$p"; done; echo
printf "|---|"; for _ in "${peers[@]}"; do printf -- "---|"; done; echo
for g in $GRAINS; do
  printf "| %s |" "$g"; for p in "${peers[@]}"; do printf " %s |" "$(stat "$tmp/$p.$g")"; done; echo
done
printf "| METG(50%%) us |"
for p in "${peers[@]}"; do
  m="> max"; for g in $GRAINS; do
    [ -s "$tmp/$p.$g" ] || continue
    med=$(bench_median "$tmp/$p.$g")
    awk -v m="$med" 'BEGIN {exit !(m >= 0.5)}' && m=$g
  done; printf " %s |" "$m"
done; echo

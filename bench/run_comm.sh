#!/usr/bin/env bash
# run_comm.sh - allreduce (f32 sum, R ranks, 8 B .. 64 MiB) of strata next to
# Open MPI's MPI_Allreduce on the same machine, interleaved (one strata run,
# one MPI run, per round), with nccl-tests' busbw and memcpy bandwidth as the
# bound. Cells: median [min-max] time; ratio of medians. Open MPI runs its
# default tuned selection, which was the best (or equal) of algorithms 1-6 up
# to 64 KiB on this machine (coll_tuned_allreduce_algorithm).
#   bench/run_comm.sh [ranks=4] [rounds=11]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
R=${1:-4}
ROUNDS=${2:-11}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -r); $(mpirun --version 2>&1 | sed -n 1p)"
echo "memcpy bandwidth (one thread, 64 MiB): $($B/bench_memcpy | sed 's/.*bw_gbs=//') GB/s"
run_strata() { bench_strata_allreduce "$R" 2>/dev/null; }
run_mpi() { mpirun --oversubscribe -np "$R" $B/bench_mpi_allreduce; }
bench_ab_rounds "$ROUNDS" "$tmp"
echo
echo "| bytes | strata time (us) | strata busbw (GB/s) | MPI time (us) | MPI busbw (GB/s) | strata time / MPI time |"
echo "|---|---|---|---|---|---|"
for bytes in $(bench_sizes "$tmp"); do
  for side in s m; do
    bench_size_field "$tmp" $side "$bytes" time_us | sort -n > "$tmp/t.$side"
  done
  awk -v b="$bytes" -v n="$R" 'function med(f,  a, k, x) { k = 0; while ((getline x < f) > 0) a[++k] = x; close(f);
      lo[f] = a[1]; hi[f] = a[k]; return a[int((k + 1) / 2)] }
    BEGIN { s = med("'"$tmp/t.s"'"); m = med("'"$tmp/t.m"'"); f = 2 * (n - 1) / n / 1000;
      printf "| %d | %.2f [%.2f-%.2f] | %.3f | %.2f [%.2f-%.2f] | %.3f | %.2f |\n", b, s, lo["'"$tmp/t.s"'"],
        hi["'"$tmp/t.s"'"], b / s * f, m, lo["'"$tmp/t.m"'"], hi["'"$tmp/t.m"'"], b / m * f, s / m }'
done

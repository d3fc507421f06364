#!/usr/bin/env bash
# run_hier.sh - hierarchical allreduce across hosts (SPEC §6): strata on
# 2 MPI ranks x 2 chips (shm inside a node, the ranks' MPI threads between
# nodes) next to a flat MPI_Allreduce on 4 ranks, f32 sum, 8 B .. 64 MiB,
# both over TCP (--mca btl self,tcp: the path between real hosts), the same
# TCP socket buffers for both (4 MiB: better for both than the default),
# Open MPI's default tuned algorithm selection (the best or equal of
# algorithms 2-6 on this machine). Interleaved rounds; cells: median
# [min-max] busbw (nccl-tests: 2(n-1)/n x bytes / time, n = 4 chips or
# ranks); ratio = strata busbw / MPI busbw of the medians.
#   bench/run_hier.sh [rounds=7]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
ROUNDS=${1:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TCP="--oversubscribe --mca btl self,tcp --mca btl_tcp_sndbuf 4194304 --mca btl_tcp_rcvbuf 4194304"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -r); $(mpirun --version 2>&1 | sed -n 1p)"
run_strata() { bench_strata_allreduce 2 mpirun $TCP -np 2 2>/dev/null; }
run_mpi() { mpirun $TCP -np 4 $B/bench_mpi_allreduce; }
bench_ab_rounds "$ROUNDS" "$tmp"
echo
echo "| bytes | strata 2x2 busbw (GB/s) | MPI 4 ranks busbw (GB/s) | strata / MPI busbw | strata time (us) | MPI time (us) |"
echo "|---|---|---|---|---|---|"
for bytes in $(bench_sizes "$tmp"); do
  for side in s m; do
    bench_size_field "$tmp" $side "$bytes" busbw_gbs > "$tmp/b.$side"
    bench_size_field "$tmp" $side "$bytes" time_us > "$tmp/t.$side"
  done
  sb=$(bench_median "$tmp/b.s"); mb=$(bench_median "$tmp/b.m")
  echo "| $bytes | $(bench_cell "$tmp/b.s") | $(bench_cell "$tmp/b.m") | $(awk -v s="$sb" -v m="$mb" 'BEGIN { printf "%.2f", (m > 0 ? s / m : 0) }') | $(bench_median "$tmp/t.s") | $(bench_median "$tmp/t.m") |"
done

#!/usr/bin/env bash
# run_comm.sh - allreduce (f32 sum, 4 ranks, 8 B .. 64 MiB) of strata next
# to Open MPI's MPI_Allreduce on the same machine, with nccl-tests' algbw
# and busbw, and memcpy bandwidth as the bound. Prints a Markdown table.
#   bench/run_comm.sh [ranks=4]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
R=${1:-4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$B/bench_allreduce "$R" > "$tmp/strata"
mpirun --oversubscribe -np "$R" $B/bench_mpi_allreduce > "$tmp/mpi"
grep -q FAIL "$tmp/strata" "$tmp/mpi" && { echo "a result check failed" >&2; exit 1; }
echo "memcpy bandwidth (one thread, 64 MiB): $($B/bench_memcpy | sed 's/.*bw_gbs=//') GB/s"
echo
echo "| bytes | strata time (us) | strata algbw | strata busbw | MPI time (us) | MPI algbw | MPI busbw | MPI time / strata time |"
echo "|---|---|---|---|---|---|---|---|"
paste -d' ' "$tmp/strata" "$tmp/mpi" | awk '{
  for (i = 1; i <= NF; i++) { split($i, kv, "="); k = kv[1]; if (i > 7) k = "m_" k; v[k] = kv[2] }
  printf "| %s | %.2f | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f |\n", v["bytes"], v["time_us"],
    v["algbw_gbs"], v["busbw_gbs"], v["m_time_us"], v["m_algbw_gbs"], v["m_busbw_gbs"],
    v["m_time_us"] / v["time_us"] }'

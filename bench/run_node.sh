#!/usr/bin/env bash
# run_node.sh - node benchmarks side by side: mailbox round trip (p50/p99)
# vs a pipe ping-pong and an Open MPI ping-pong on shared memory, and the
# ready time of an 8-chip node vs the ring heap size. Median of REPEATS.
#   bench/run_node.sh [round_trips=20000] [repeats=5]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
N=${1:-20000}
REPEATS=${2:-5}

field() { sed "s/.*$1=\([0-9.]*\).*/\1/"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rtt() { # impl command...: median p50 and p99 over REPEATS runs
  local out p50s="" p99s=""
  for _ in $(seq "$REPEATS"); do
    out=$("${@:2}" | grep "impl=")
    p50s+="$(echo "$out" | field rtt_p50_us)"$'\n'
    p99s+="$(echo "$out" | field rtt_p99_us)"$'\n'
  done
  echo "$1 $(echo -n "$p50s" | median) $(echo -n "$p99s" | median)"
}

{
  rtt strata "$B/bench_mailbox" "$N"
  rtt pipe "$B/bench_pipe" "$N"
  rtt mpi mpirun --oversubscribe -np 2 "$B/bench_mpi_pingpong" "$N"
} | awk 'NR == 1 {s50 = $2; s99 = $3}
  {r[NR] = $0} END {
    print "| transport | p50 (us) | p99 (us) | p50 / strata | p99 / strata |"
    print "|---|---|---|---|---|"
    for (i = 1; i <= NR; i++) { split(r[i], f, " ")
      printf "| %s | %.2f | %.2f | %.2f | %.2f |\n", f[1], f[2], f[3], f[2] / s50, f[3] / s99 }
  }'
echo
echo "| ring heap (PTO2_RING_HEAP) | 8-chip node ready (ms) |"
echo "|---|---|"
for h in 268435456 1073741824 4294967296; do
  ms=$(for _ in $(seq "$REPEATS"); do PTO2_RING_HEAP=$h $B/bench_node_ready 8 | field ready_ms; echo; done | grep . | median)
  echo "| $h | $ms |"
done

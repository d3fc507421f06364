#!/bin/sh
# mpi_trace.sh <strata> <mpi_run.sh>: trace `strata run pipeline --chips 2`
# under mpirun with 2 ranks (each rank writes its own file, on rank 0's
# clock), merge the files and check the summary sees the chips of both ranks.
set -e
strata=$1; run=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
STRATA_TRACE="$dir/t.json" sh "$run" 2 "$strata" run pipeline --chips 2 --json
test -s "$dir/t.json" && test -s "$dir/t.json.rank1"
"$strata" trace merge -o "$dir/all.json" "$dir/t.json" "$dir/t.json.rank1"
sum=$("$strata" trace summary "$dir/all.json" --json)
echo "$sum"
echo "$sum" | grep -q '"name":"stage","count":16,'  # 8 blocks x 2 stages, both ranks
chips=$(echo "$sum" | grep -o '"pid":[0-9]*' | wc -l)  # every chip process of both ranks
[ "$chips" -eq 4 ] || { echo "want 4 chip processes, got $chips" >&2; exit 1; }
echo "$sum" | grep -q '"pid":1[0-9]\{7\}'             # rank 1's, moved by 10^7

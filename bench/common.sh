# common.sh - sourced by the bench/run*.sh scripts: install the peers
# (StarPU, Open MPI), build the benchmarks in Release, set B to their folder.
scripts/deps.sh bench
if ! command -v mpirun >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq libopenmpi-dev openmpi-bin >/dev/null
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON -DSTRATA_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
B=build-bench/bench
STRATA=build-bench/strata

# strata's allreduce sweep as key=value lines (one per size, 8 B .. 64 MiB in
# x4 steps, then 64 MiB; 20 timed calls after 1 warm-up, the slowest chip;
# results checked): `strata bench allreduce`, the command users run.
#   bench_strata_allreduce <chips per node> [launcher args...]
bench_strata_allreduce() {
  local chips=$1 r; shift
  for r in "--max-bytes 32M" "--min-bytes 64M --max-bytes 64M"; do
    "$@" $STRATA bench allreduce --chips "$chips" --min-bytes 8 --factor 4 --iters 20 \
      --window "${BENCH_WINDOW:-4194304}" --check $r
  done | awk '!/^#/ { printf "impl=strata bytes=%s time_us=%s algbw_gbs=%s busbw_gbs=%s check=%s\n",
                      $1, $6, $7, $8, $9 == "0" ? "ok" : "FAIL" }'
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Statistics of a file of numbers, one per line (the interleaved runs of one
# cell): bench_median FILE prints the median; bench_cell FILE [SCALE] prints
# "median [min-max]" of the values divided by SCALE (default 1), or "-".
bench_median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench_cell() {
  sort -n "$1" | awk -v s="${2:-1}" '{a[NR]=$1 / s} END {if (NR) printf "%.2f [%.2f-%.2f]", a[int((NR+1)/2)], a[1], a[NR]; else printf "-"}'
}

# Allreduce benches (run_comm.sh, run_hier.sh): ROUNDS interleaved rounds of
# the caller's run_strata and run_mpi functions into DIR/s.<round> and
# DIR/m.<round> (one key=value line per size); a failed result check stops.
bench_ab_rounds() { # rounds dir
  local r
  for r in $(seq "$1"); do
    run_strata > "$2/s.$r"
    run_mpi > "$2/m.$r"
    if grep -q FAIL "$2/s.$r" "$2/m.$r"; then echo "a result check failed" >&2; exit 1; fi
  done
}
# The value of key=value field FIELD in the lines for BYTES of every round of
# DIR/SIDE.*, one per line: bench_size_field dir side bytes field
bench_size_field() {
  cat "$1/$2".* | grep " bytes=$3 " | tr ' ' '\n' | sed -n "s/^$4=//p"
}
# The sizes of round 1: bench_sizes dir
bench_sizes() { tr ' ' '\n' < "$1/s.1" | sed -n 's/^bytes=//p'; }

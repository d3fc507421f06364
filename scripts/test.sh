#!/usr/bin/env bash
# test.sh - set up and run the whole test suite: the gcc build (ctest, the
# Python tests with pytest, the installed package used by out-of-tree
# consumers), then clang with ASan+UBSan, then clang with TSan; each runs every
# ctest entry (one process per test, with a timeout). `test.sh quick` stops
# after the gcc build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
# Every /dev/shm segment this run creates carries this tag, so the leak check
# below counts only ours, whatever other strata processes run on the machine.
export STRATA_SHM_TAG="t$$"
# Leak checks must see what a run left: no sweeping of dead processes' names.
export STRATA_SHM_SWEEP=0
shm_leaks() { ls /dev/shm 2>/dev/null | grep -E "^strata-.*-${STRATA_SHM_TAG}\$" || true; }

run_config() { # name cc sanitize build_type
  local dir="build-$1"
  echo "=== $1 ($2${3:+, -fsanitize=$3}) ==="
  CC=$2 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$4" -DSTRATA_SANITIZE="$3" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 120)
}

run_config gcc gcc "" RelWithDebInfo
echo "=== python (pytest over build-gcc) ==="
PYTHONPATH=python STRATA_LIB=build-gcc/libstrata.so.0 \
  STRATA_PYKERNELS=build-gcc/python/libstrata_pykernels.so /usr/bin/python3 -m pytest -q python/tests
echo "=== install: pkg-config, find_package, CLI and Python from a prefix ==="
scripts/check_install.sh build-gcc
[ "${1:-}" = quick ] && exit 0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_config asan clang address,undefined Debug
TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" run_config tsan clang thread Debug
leftover=$(shm_leaks)
if [ -n "$leftover" ]; then echo "leaked /dev/shm entries: $leftover"; exit 1; fi
echo "all configurations passed"

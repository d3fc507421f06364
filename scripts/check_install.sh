#!/usr/bin/env bash
# check_install.sh - install a build into a scratch prefix and use it as a
# dependency: an out-of-tree program built with pkg-config, then with
# find_package(strata) (shared and static), the installed CLI, the Python
# package from the prefix, and the package installed by pip into a venv
# (pyproject.toml) that finds libstrata.so in the prefix. Run by scripts/test.sh.
#   scripts/check_install.sh <build dir>
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: check_install.sh <build dir>}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libstrata.so' | head -1)")

echo "--- pkg-config consumer"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall tests/consumer/consumer.c $(pkg-config --cflags --libs strata) -o "$work/c1"
LD_LIBRARY_PATH="$libdir" "$work/c1"

echo "--- find_package(strata) consumer"
cmake -S tests/consumer -B "$work/c2" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/c2" >/dev/null
"$work/c2/consumer"          # the RPATH CMake sets points at the prefix
"$work/c2/consumer_static"

echo "--- installed CLI and Python package"
"$prefix/bin/strata" run vector --json | grep -q '"check":true'
echo "strata CLI ok"
pydir=$(dirname "$(find "$prefix" -path '*/strata/__init__.py' | head -1)")
PYTHONPATH=$(dirname "$pydir") /usr/bin/python3 -m strata run vector --json | grep -q '"check": *true'
echo "python3 -m strata ok"

echo "--- pip install --no-build-isolation . into a venv (--system-site-packages: Debian's numpy)"
/usr/bin/python3 -m venv --without-pip --system-site-packages "$work/venv"
mkdir -p "$work/src/include/strata"  # a copy: pip builds in the tree it is given
cp -r pyproject.toml setup.py README.md python "$work/src/"
cp include/strata/version.h "$work/src/include/strata/"
(cd "$work/src" && STRATA_PREFIX="$prefix" "$work/venv/bin/python" -m pip install -q \
  --no-build-isolation .)
(cd "$work" && env -u PYTHONPATH -u STRATA_LIB -u STRATA_PYKERNELS "$work/venv/bin/python" -m strata \
  run vector --json) | grep -q '"check": *true'
echo "pip-installed package ok"

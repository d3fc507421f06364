#!/usr/bin/env bash
# demo.sh - set up, build and run the main demo: the vector example on a
# simulated chip, printed as JSON, then the 100k-task random DAG.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/strata run vector --json
./build/strata run dag

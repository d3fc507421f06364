#!/usr/bin/env bash
# deps.sh - install what strata needs on a fresh Debian 12 machine (as root,
# or with sudo). `deps.sh bench` also installs the benchmark peers.
set -euo pipefail
pkgs=(cmake make gcc clang libclang-rt-14-dev pkg-config libcmocka-dev  # clang only recommends its sanitizer runtimes
      python3 python3-numpy python3-pytest python3-pip python3-setuptools  # the Python front end
      libopenmpi-dev openmpi-bin)                                          # multi-host (mpirun tests)
[ "${1:-}" = bench ] && pkgs+=(libstarpu-dev libtbb-dev g++ time)  # time: GNU time's peak RSS
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null

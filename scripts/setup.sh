#!/usr/bin/env bash
# Installs the Debian packages npusim needs (idempotent) and configures + builds it.
# Usage: scripts/setup.sh [build-dir]               (default: build)
#        scripts/setup.sh --install-only [PKG ...]  install them (and PKG ...) only
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
install_only=false
extra=()
if [ "${1:-}" = "--install-only" ]; then
  install_only=true
  shift
  extra=("$@")
  set --
fi
build="${1:-$here/build}"

packages=(
  g++ cmake ninja-build pkg-config
  libsystemc-dev
  libprotobuf-dev protobuf-compiler
  libfmt-dev
  libboost-dev libboost-mpi-dev libboost-serialization-dev libboost-program-options-dev openmpi-bin libopenmpi-dev
  libgtest-dev libgmock-dev
  nlohmann-json3-dev
  libonnx-dev
  libeigen3-dev libxtensor-dev
  libgoogle-perftools-dev
  python3-matplotlib
  pybind11-dev python3-dev python3-pytest python3-pandas
)
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

$install_only && exit 0

jobs="$(nproc 2>/dev/null || echo 2)"
# The Python module for Debian's python3, whose packages (pytest, pandas) the
# list above installs.
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$build" -j "$jobs"

#!/usr/bin/env bash
# The sanitized test run: builds npusim, its tests and the fuzz harnesses
# with clang, AddressSanitizer and UndefinedBehaviorSanitizer
# (-DNPUSIM_SANITIZE=ON, with -DNPUSIM_FUZZ=ON so that scripts/fuzz.sh reuses
# the same build) into build-san/ and runs every test there; any sanitizer
# report fails its test. Installs what it needs with apt-get.
# Usage: scripts/sanitize.sh [--build-only]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/sanitizer-options.sh"
"$here/scripts/setup.sh" --install-only "${sanitizer_packages[@]}"

jobs="$(nproc 2>/dev/null || echo 2)"
# -O1 with line tables: readable stacks, quicker to build than Release.
cmake -S "$here" -B "$san_build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  -DNPUSIM_SANITIZE=ON -DNPUSIM_FUZZ=ON >/dev/null
cmake --build "$san_build" -j "$jobs"
[ "${1:-}" = "--build-only" ] && exit 0
ctest --test-dir "$san_build" --output-on-failure -j "$jobs"

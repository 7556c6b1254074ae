#!/usr/bin/env bash
# Sets up, builds and runs every test (GoogleTest through CTest, CLI checks,
# golden files).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
ctest --test-dir "$here/build" --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"

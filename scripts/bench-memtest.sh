#!/usr/bin/env bash
# Memory simulation speed: memtest on one HBM3 stack, sequential and random
# 64-byte reads on the burst-level path, and a sequential stream of 1 MiB
# requests on the row-granular fast path versus burst by burst.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
run() { echo "== npusim memtest $*"; "$here/build/npusim" memtest "$@" | grep -E "efficiency|wall time"; }
run --dram HBM3-6400 --pattern sequential --requests 2000000 --request-bytes 64 --outstanding 1024
run --dram HBM3-6400 --pattern random --requests 500000 --request-bytes 64 --outstanding 1024
run --dram HBM3-6400 --pattern sequential --requests 800 --request-bytes 1048576 --outstanding 16
run --dram HBM3-6400 --pattern sequential --requests 800 --request-bytes 1048576 --outstanding 16 \
  --set memory.dram.row_granular=false

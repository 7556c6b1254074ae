#!/usr/bin/env bash
# Wall time to compile and simulate one Llama-2-7B decoder layer (decode,
# batch 1) on the ideal-memory preset. Builds first if needed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
"$here/build/npusim" bench --system "$here/examples/hw/npu-128x128-ideal.textproto" \
  --layer llama2-7b --batch 1 --kv-len 2048 --repeat 11 "$@"

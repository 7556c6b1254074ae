#!/usr/bin/env bash
# Wall time to compile and simulate one Llama-2-7B decode token (batch 1,
# KV 2048, all 32 layers): on the ideal-memory preset, and on five HBM3
# stacks with DRAM timing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
for hw in npu-128x128-ideal npu-hbm3; do
  echo "== $hw"
  "$here/build/npusim" bench --system "$here/examples/hw/$hw.textproto" \
    --model "$here/examples/models/llama2-7b.json" --kv-len 2048 --repeat 1 "$@" | tail -3
done

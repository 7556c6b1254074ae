#!/usr/bin/env bash
# Wall time and peak memory to compile and simulate a Llama-2-70B decode
# token over many chips (issue 14's speed targets): 8-way tensor
# parallelism on eight a100-like GPUs over NVLink (target: under 10 s), and
# 656 SRAM-only groq-like chips, tp 8 x pp 82 (target: under 60 s, memory
# not growing with the chips beyond their programs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
run() {
  echo "== npusim bench $*"
  "$here/build/npusim" bench --repeat 1 "$@"
}
run --system "$here/examples/hw/a100x8-nvlink.textproto" \
  --model "$here/examples/models/llama2-70b.json" --dtype bf16
run --system "$here/examples/hw/groq-like.textproto" \
  --model "$here/examples/models/llama2-70b.json"

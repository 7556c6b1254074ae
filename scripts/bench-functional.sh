#!/usr/bin/env bash
# Wall time and peak memory of functional mode (the program executed with
# data, checked against the reference interpreter), against the same run
# without data: a 2-layer GPT-2 prefill of 32 tokens (target: under 2 s) and
# one Llama-2-7B decoder layer at batch 1 (target: under 10 s), on npu-hbm3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh" --install-only time  # GNU time, for the peak memory
"$here/scripts/setup.sh"
hw="$here/examples/hw/npu-hbm3.textproto"
run() {
  local label="$1"
  shift
  for mode in "" --functional; do
    /usr/bin/time -f "$label ${mode:-timing only}: %e s wall, %M KB peak" \
      "$here/build/npusim" run --system "$hw" "$@" $mode >/dev/null
  done
}
run "gpt2 2 layers, prefill 32" --model "$here/examples/models/gpt2.json" --layers 2 \
  --phase prefill --prompt-len 32
run "llama2-7b layer, decode" --layer llama2-7b

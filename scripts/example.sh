#!/usr/bin/env bash
# Sets up, builds and runs the main example: one Llama-2-7B decoder layer,
# decoding one token at batch 1 with a 2048-token KV cache, on a 128x128 NPU
# with 1 TB/s of ideal memory. Extra arguments go to `npusim run`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
exec "$here/build/npusim" run --system "$here/examples/hw/npu-128x128-ideal.textproto" \
  --layer llama2-7b --batch 1 --kv-len 2048 "$@"

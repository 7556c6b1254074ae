#!/usr/bin/env bash
# npusim run --functional from the command line: inputs from .npy, the output
# checked with --expect against numpy's product (tests/bad_inputs/files/npy/
# make.sh), written with --output-npy and read back; an output far from its
# expected values exits 1.
# Usage: functional_cli.sh NPUSIM SOURCE_DIR
set -euo pipefail
npusim="$1"
files="$2/tests/bad_inputs/files/npy"
hw="$2/examples/hw/npu-128x128-ideal.textproto"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
run() { "$npusim" run --system "$hw" --model "$files/mm.pbtxt" --functional --quiet "$@"; }
run --input x="$files/x.npy" --input w="$files/w.npy" --expect y="$files/y.npy" --output-npy "$out"
[ -f "$out/y.npy" ] || { echo "no $out/y.npy"; exit 1; }
# What it wrote is what it computes.
run --input x="$files/x.npy" --input w="$files/w.npy" --expect "$out/y.npy"
# An output far from what it should be.
status=0
run --input x="$files/x.npy" --input w="$files/w.npy" --expect "$files/y_far.npy" >"$out/log" || status=$?
[ "$status" = 1 ] || { echo "expected exit 1 past the tolerance, got $status"; exit 1; }
grep -q "PAST THE TOLERANCE" "$out/log" || { echo "no tolerance message"; cat "$out/log"; exit 1; }
# A PyTorch export (tests/onnx/torch): token ids fixed at import from --input,
# the attention mask as run-time data, the output against PyTorch's. Then
# GPT-2's logits in fp32 against PyTorch's, and not against BERT's (exit 1).
torch="$2/tests/onnx/torch"
"$npusim" run --system "$hw" --model "$torch/bert_op17.onnx" --dtype fp32 --functional --quiet \
  --input input_ids="$torch/bert_op17.input_ids.npy" \
  --input token_type_ids="$torch/bert_op17.token_type_ids.npy" \
  --input attention_mask="$torch/bert_op17.attention_mask.npy" \
  --expect last_hidden_state="$torch/bert_op17.last_hidden_state.npy"
"$npusim" run --system "$hw" --model "$torch/gpt2_op17.onnx" --dtype fp32 --functional --quiet \
  --input input_ids="$torch/gpt2_op17.input_ids.npy" --expect logits="$torch/gpt2_op17.logits.npy"
status=0
"$npusim" run --system "$hw" --model "$torch/gpt2_op17.onnx" --dtype fp32 --functional --quiet \
  --input input_ids="$torch/opt_op17.input_ids.npy" --expect logits="$torch/opt_op17.logits.npy" \
  >"$out/log" || status=$?
[ "$status" = 1 ] || { echo "GPT-2 with OPT's logits: expected exit 1, got $status"; exit 1; }
echo "functional_cli: ok"

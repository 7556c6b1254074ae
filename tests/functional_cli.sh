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
echo "functional_cli: ok"

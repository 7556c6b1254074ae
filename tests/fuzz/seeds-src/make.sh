#!/usr/bin/env bash
# Regenerates the binary seeds in ../corpus from text: ONNX models from
# *.onnx.txt (onnx.ModelProto in text format, /usr/include/onnx/onnx.proto
# from libonnx-dev), npusim graphs and programs from their textproto seeds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
corpus="$here/../corpus"
for src in "$here"/*.onnx.txt; do
  protoc --proto_path=/usr/include --encode=onnx.ModelProto onnx/onnx.proto \
    <"$src" >"$corpus/onnx/$(basename "$src" .txt)"
done
encode() {  # message proto text binary
  protoc -I"$root" --encode="$1" "$2" <"$3" >"$4"
}
encode npusim.Graph compiler/graph.proto "$corpus/graph/matmul.textproto" "$corpus/graph/matmul.pb"
encode npusim.Graph compiler/graph.proto "$corpus/graph/tiny_graph.textproto" \
  "$corpus/graph/tiny_graph.pb"
encode npusim.Program arch/isa.proto "$corpus/program/hand_program.textproto" \
  "$corpus/program/hand_program.pb"

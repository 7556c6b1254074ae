#!/usr/bin/env bash
# Regenerates the ONNX models of tests/bad_inputs/onnx.cases from their text
# sources in src/ (protoc, Debian's protobuf-compiler, and the onnx.proto of
# Debian's libonnx-dev).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for src in "$here"/src/*.textproto; do
  name="$(basename "$src" .textproto)"
  protoc --encode=onnx.ModelProto -I/usr/include onnx/onnx.proto <"$src" >"$here/$name.onnx"
done
# The valid model cut short.
head -c 60 "$here/ok.onnx" >"$here/truncated.onnx"

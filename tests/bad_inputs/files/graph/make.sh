#!/usr/bin/env bash
# Regenerates the binary graphs (.pb) of tests/bad_inputs/graph.cases from
# their text sources in pb/ (protoc, Debian's protobuf-compiler).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
for src in "$here"/pb/*.txtpb; do
  protoc --encode=npusim.Graph -I"$root" compiler/graph.proto <"$src" >"${src%.txtpb}.pb"
done
# A valid graph cut short.
protoc --encode=npusim.Graph -I"$root" compiler/graph.proto <"$here/layer.pbtxt" |
  head -c 700 >"$here/pb/truncated.pb"

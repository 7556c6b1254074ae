// ONNX models (Debian's libonnx) -> npusim.Graph: static shapes from ONNX
// shape inference, weights from the initializers, and the ops PyTorch's
// exporter (opset 13-17) emits for GPT-2 and Llama style blocks. An op it
// cannot lower is an error naming the node and the op.
#pragma once

#include <string>

#include "compiler/frontends/model_spec.h"
#include "compiler/graph.pb.h"

namespace npusim::compiler {

// `shape` gives the precisions (the ONNX file's own are ignored: npusim
// models the precision you choose) and the seed for token ids.
[[nodiscard]] Graph import_onnx(const std::string& path, const DecodeShape& shape);

}  // namespace npusim::compiler

// ONNX models (Debian's libonnx) -> npusim.Graph: static shapes from ONNX
// shape inference, weights from the initializers, and the ops PyTorch's
// exporter (opset 13-17) emits for GPT-2, OPT, Llama, Qwen2 and BERT style
// models. Subgraphs that compute only from constants (masks, positions,
// RoPE tables, shape arithmetic) are evaluated at import
// (onnx_constant.h); causal masks become the Softmax's causal attribute and
// RoPE arithmetic on constant tables a ROTARY. An op or pattern it cannot
// take is an error naming the node and the op.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compiler/frontends/model_spec.h"
#include "compiler/graph.pb.h"

namespace npusim::compiler {

// Values of a graph input fixed at import (npusim run --input NAME=F.npy
// with an .onnx model): the input becomes a constant, as if the file held
// it. Token ids given so fix an embedding's rows (data-dependent addresses
// fixed at compile time, like MoE routing); positions fix the RoPE tables;
// an attention mask is folded into the masks. `file` names the source in
// errors.
struct OnnxInputValues {
  std::vector<uint64_t> shape;
  std::vector<double> values;
  std::string file;
};
using OnnxInputs = std::map<std::string, OnnxInputValues>;

// `shape` gives the precisions (the ONNX file's own are ignored: npusim
// models the precision you choose) and the seed for token ids read from an
// integer input whose values are not given.
[[nodiscard]] Graph import_onnx(const std::string& path, const DecodeShape& shape,
                                const OnnxInputs& inputs = {});

// The graph with the values of its weights (the initializers' data, as
// float; functional mode computes with them) and the inputs fixed at import.
struct OnnxModel {
  Graph graph;
  std::map<std::string, std::vector<float>> weights;
  std::set<std::string> fixed_inputs;
};
[[nodiscard]] OnnxModel import_onnx_model(const std::string& path, const DecodeShape& shape,
                                          const OnnxInputs& inputs = {});

}  // namespace npusim::compiler

// Import-time constant folding for ONNX graphs. PyTorch's exporter leaves
// whole subgraphs that compute only from constants (masks, positions, the
// RoPE tables, shape arithmetic), more of them with do_constant_folding=False
// or an older torch. The importer evaluates every node whose inputs are all
// constants with fold(), on small tensors held as doubles (exact for the
// integers of shapes and indices, rounded to float32 after each op on FLOAT
// data as an fp32 runtime would).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace npusim::compiler {

struct OnnxConstant {
  int32_t type = onnx::TensorProto::FLOAT;  // onnx::TensorProto::DataType
  std::vector<int64_t> shape;               // rank 0: a scalar
  std::vector<double> values;               // row-major
};

// `v` as an int64, saturating: INT64_MAX (PyTorch's "to the end" in a Slice)
// is 2^63 as a double.
[[nodiscard]] inline int64_t to_int64(double v) {
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(v);
}

// The most elements a folded constant may have: a mask or a table, never a
// weight-sized tensor computed at import.
inline constexpr uint64_t kMaxFoldElements = uint64_t{1} << 22;

// Why a node could not be evaluated (the importer names the node).
class FoldError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The data of an initializer or a Constant's tensor (float_data, int64_data,
// int32_data, double_data or raw_data). FoldError for an element type it
// cannot read or data whose length does not match the dims.
[[nodiscard]] OnnxConstant read_constant(const onnx::TensorProto& tensor);

// Whether fold() evaluates `op_type` (default domain).
[[nodiscard]] bool foldable(const std::string& op_type);

// Evaluates `node` on `inputs` (nullptr for an absent optional input);
// `opset` is the model's default-domain opset. FoldError saying what it
// cannot evaluate (an attribute, a shape, a result over kMaxFoldElements).
[[nodiscard]] OnnxConstant fold(const onnx::NodeProto& node,
                                const std::vector<const OnnxConstant*>& inputs, int64_t opset);

}  // namespace npusim::compiler

// The compiler's oracle: a graph interpreter that runs a graph node by node
// on whole tensors, untiled, in fp32, rounding each node's outputs to their
// tensors' dtypes. Functional mode's results for a compiled program are
// checked against it (tests/test_functional.cpp).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

// Tensor values by name, row-major.
using TensorValues = std::map<std::string, std::vector<float>>;

// Runs `graph` from `inputs` (parameters, the layer's input, KV caches) and
// returns every node's outputs (a KV cache appended to: as it ends up).
// UserError for an op it does not interpret, naming the node.
[[nodiscard]] TensorValues interpret(const Graph& graph, const TensorValues& inputs);

}  // namespace npusim::compiler

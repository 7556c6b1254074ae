#include "compiler/reference/reference.h"

#include <fmt/format.h>

#include <Eigen/Core>

#include "common/elements.h"
#include "common/error.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {
namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

const std::vector<float>& input(const TensorValues& values, const Node& node, int i) {
  auto it = values.find(node.inputs(i));
  if (it == values.end()) {
    throw UserError(fmt::format("reference: node '{}': no value for its input '{}'", node.name(),
                                node.inputs(i)));
  }
  return it->second;
}

// MATMUL: out[.., M, N] = in[.., M, K] x weight[K, N], the leading
// dimensions flattened into M.
std::vector<float> matmul(const Node& node, const TensorIndex& tensors,
                          const TensorValues& values) {
  const Tensor& w = tensors.at(node.inputs(1), node.name());
  const auto k = static_cast<Eigen::Index>(w.shape(0)), n = static_cast<Eigen::Index>(w.shape(1));
  const std::vector<float>& x = input(values, node, 0);
  const auto m = static_cast<Eigen::Index>(x.size()) / k;
  std::vector<float> out(static_cast<size_t>(m * n));
  Eigen::Map<Mat>(out.data(), m, n) = Eigen::Map<const Mat>(x.data(), m, k) *
                                      Eigen::Map<const Mat>(input(values, node, 1).data(), k, n);
  return out;
}

}  // namespace

TensorValues interpret(const Graph& graph, TensorValues values) {
  const TensorIndex tensors(graph);
  for (const Node& node : graph.nodes()) {
    std::vector<float> out;
    switch (node.op()) {
      case MATMUL:
        out = matmul(node, tensors, values);
        break;
      default:
        throw UserError(fmt::format("reference: node '{}': the interpreter does not run {} yet",
                                    node.name(), OpType_Name(node.op())));
    }
    const Tensor& y = tensors.at(node.outputs(0), node.name());
    for (float& v : out) v = round_to(y.dtype(), v);
    values[y.name()] = std::move(out);
  }
  return values;
}

}  // namespace npusim::compiler

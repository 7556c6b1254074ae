// MATMUL: out[.., M, N] = in[.., M, K] x weight[K, N]. Weights are packed in
// tile order by the compiler, so every weight tile is one contiguous transfer;
// a weight shared with an embedding table is read as stored, [N, K].
#include <fmt/format.h>

#include "common/error.h"
#include "compiler/lowering/gemm.h"

namespace npusim::compiler {
namespace {

void lower_matmul(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() == 2 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "MATMUL takes (input, weight) and gives one output");
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& w = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  require(w.shape_size() == 2 && x.shape_size() >= 1, "graph", "node '" + node.name() + "'",
          "MATMUL needs a 2-D weight");
  // A weight stored [N, K] (an LM head tied to the embedding table).
  const bool transposed = attr_int(node, "weight_transposed", 0) != 0;
  const auto k = static_cast<uint64_t>(w.shape(transposed ? 1 : 0));
  const auto n = static_cast<uint64_t>(w.shape(transposed ? 0 : 1));
  require(static_cast<uint64_t>(x.shape(x.shape_size() - 1)) == k, "graph",
          "node '" + node.name() + "'",
          fmt::format("input's last dimension {} differs from the weight's rows {}",
                      x.shape(x.shape_size() - 1), k));
  GemmSpec spec;
  spec.node = node.name();
  spec.m = num_elements(x) / k;
  spec.k = k;
  spec.n = n;
  spec.a = {ctx.tensor(x), x.address(), x.dtype()};
  spec.b = {ctx.tensor(w), w.address(), w.dtype()};
  spec.b_layout = transposed ? BLayout::NK : BLayout::Tiled;
  spec.out = {ctx.tensor(y), y.address(), y.dtype()};
  const GemmTiling tiling = choose_gemm_tiling(spec, ctx.target, ctx.builder.layout());
  note_tiling(tiling, ctx);
  lower_gemm(spec, tiling, ctx);
}

}  // namespace

NPUSIM_REGISTER_LOWERING(MATMUL, lower_matmul);

}  // namespace npusim::compiler

// MATMUL: out[.., M, N] = in[.., M, K] x weight[K, N]. Weights are packed in
// tile order by the compiler, so every weight tile is one contiguous transfer;
// a weight shared with an embedding table is read as stored, [N, K].
#include <fmt/format.h>

#include "common/error.h"
#include "compiler/lowering/gemm.h"
#include "compiler/lowering/lower_pim.h"
#include "compiler/lowering/weight_packing.h"

namespace npusim::compiler {
namespace {

// Takes the operands from the tensors (the activations `a` read on chip,
// and the output left there, when they are forwarded), then tiles and lowers.
// Returns the tiling.
GemmTiling lower_with(GemmSpec& spec, const Tensor& a, const Tensor& b, const Tensor& y,
                      LoweringContext& ctx) {
  spec.a = {ctx.tensor(a), a.address(), a.dtype(), ctx.on_chip_input(a)};
  spec.b = {ctx.tensor(b), b.address(), b.dtype(), std::nullopt};
  spec.out = {ctx.tensor(y), y.address(), y.dtype(), ctx.on_chip_output(y)};
  const GemmTiling tiling = choose_gemm_tiling(spec, ctx.target, ctx.builder.layout());
  note_tiling(spec, tiling, ctx);
  lower_gemm(spec, tiling, ctx);
  return tiling;
}

void lower_matmul(const Node& node, LoweringContext& ctx) {
  require((node.inputs_size() == 2 || node.inputs_size() == 3) && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'",
          "MATMUL takes (input, weight[, scales]) and gives one output");
  if (attr_int(node, "pim", 0) != 0) {
    lower_pim_matmul(node, ctx);  // compiler/passes/pim_offload.h chose PIM
    return;
  }
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& w = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  require(w.shape_size() == 2 && x.shape_size() >= 1, "graph", "node '" + node.name() + "'",
          "MATMUL needs a 2-D weight");
  // A weight stored [N, K] (an LM head tied to the embedding table).
  const bool transposed = attr_int(node, "weight_transposed", 0) != 0;
  const auto k = static_cast<uint64_t>(w.shape(transposed ? 1 : 0));
  const auto n = static_cast<uint64_t>(w.shape(transposed ? 0 : 1));
  require(
      last_dim(x) == k, "graph", "node '" + node.name() + "'",
      fmt::format("input's last dimension {} differs from the weight's rows {}", last_dim(x), k));
  GemmSpec spec;
  spec.node = node.name();
  spec.m = num_elements(x) / k;
  spec.k = k;
  spec.n = n;
  spec.b_layout = transposed ? BLayout::NK : BLayout::Tiled;
  if (node.inputs_size() == 3) {
    const Tensor& sc = ctx.tensors.at(node.inputs(2), node.name());
    spec.b_scales = GemmScales{
        ctx.tensor(sc), sc.address(), sc.dtype(),
        static_cast<uint64_t>(attr_int(node, "scale_group", static_cast<int64_t>(k))), k};
  }
  const GemmTiling tiling = lower_with(spec, x, w, y, ctx);
  if (!transposed) note_packing(tiling.packing(), ctx);
}

// BATCH_MATMUL: out[.., M, N] = a[.., M, K] x b[.., K, N], both computed at
// run time (attention written as plain matmuls, as ONNX exports it); the
// leading dimensions are a batch of independent problems.
void lower_batch_matmul(const Node& node, LoweringContext& ctx) {
  const std::string where = "node '" + node.name() + "'";
  require(node.inputs_size() == 2 && node.outputs_size() == 1, "graph", where,
          "BATCH_MATMUL takes (a, b) and gives one output");
  const Tensor& a = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& bt = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  require(a.shape_size() >= 2 && bt.shape_size() >= 2, "graph", where,
          "both operands need at least two dimensions");
  GemmSpec spec;
  spec.node = node.name();
  spec.m = static_cast<uint64_t>(a.shape(a.shape_size() - 2));
  spec.k = last_dim(a);
  spec.n = last_dim(bt);
  require(static_cast<uint64_t>(bt.shape(bt.shape_size() - 2)) == spec.k, "graph", where,
          "the inner dimensions differ");
  spec.batch = num_elements(a) / (spec.m * spec.k);
  const uint64_t b_batch = num_elements(bt) / (spec.k * spec.n);
  require(b_batch == spec.batch || b_batch == 1, "graph", where,
          "b must have a's batch or none (broadcast)");
  require(num_elements(y) == spec.batch * spec.m * spec.n, "graph", where,
          "the output does not match");
  spec.b_layout = BLayout::KN;
  spec.b_batch_stride = b_batch == 1 ? 0 : spec.k * spec.n;
  lower_with(spec, a, bt, y, ctx);
}

}  // namespace

// Both take the activations (input 0) from, and leave the output in, the
// scratchpad when the producer and consumers forward them.
NPUSIM_REGISTER_LOWERING_ON_CHIP(MATMUL, lower_matmul, (OnChipOperands{MATRIX, 1, true}));
NPUSIM_REGISTER_LOWERING_ON_CHIP(BATCH_MATMUL, lower_batch_matmul,
                                 (OnChipOperands{MATRIX, 1, true}));

}  // namespace npusim::compiler

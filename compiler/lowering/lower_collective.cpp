// ALL_REDUCE: the partial sums stored by the row-split matmuls before it
// are summed over the core ring by a ring all-reduce in the scratchpad
// (ProgramBuilder::all_reduce), and the sum is stored for the ops after it.
#include <fmt/format.h>

#include "common/error.h"
#include "compiler/lowering/lowering.h"

namespace npusim::compiler {
namespace {

void lower_all_reduce(const Node& node, LoweringContext& ctx) {
  const Tensor& in = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const auto ranks = static_cast<size_t>(attr_int(node, "ranks", 0));
  require(ranks == ctx.target.ring.size(), ctx.target.where, "node '" + node.name() + "'",
          fmt::format("sums over {} cores, but the program is compiled for a ring of {}", ranks,
                      ctx.target.ring.size()));
  ctx.builder.all_reduce(ctx.tensor(in), in.address(), ctx.tensor(out), out.address(),
                         num_elements(in), in.dtype());
}

}  // namespace

NPUSIM_REGISTER_LOWERING(ALL_REDUCE, lower_all_reduce);

}  // namespace npusim::compiler

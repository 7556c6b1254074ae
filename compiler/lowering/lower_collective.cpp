// Data between cores, through the scratchpad's buffers for them
// (compiler/program_builder.h CorePeers):
//   ALL_REDUCE: the partial sums stored by the row-split matmuls before it
//     are summed over the core ring by a ring all-reduce, and the sum is
//     stored for the ops after it;
//   PIPE_SEND, PIPE_RECV: a tensor from memory to the next pipeline stage's
//     core, and from the previous one's into memory.
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

void lower_pipe_send(const Node& node, LoweringContext& ctx) {
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  ctx.builder.pipe_send(ctx.tensor(x), x.address(), x.size_bytes());
}

void lower_pipe_recv(const Node& node, LoweringContext& ctx) {
  const Tensor& x = ctx.tensors.at(node.outputs(0), node.name());
  ctx.builder.pipe_recv(ctx.tensor(x), x.address(), x.size_bytes());
}

}  // namespace

NPUSIM_REGISTER_LOWERING(ALL_REDUCE, lower_all_reduce);
NPUSIM_REGISTER_LOWERING(PIPE_SEND, lower_pipe_send);
NPUSIM_REGISTER_LOWERING(PIPE_RECV, lower_pipe_recv);

}  // namespace npusim::compiler

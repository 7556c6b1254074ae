#include "compiler/compile.h"

#include <fmt/format.h>

#include "common/error.h"

namespace npusim::compiler {

namespace {
// Whether the step multiplies many rows (prefill).
bool many_rows(const Graph& graph) {
  for (const Node& node : graph.nodes()) {
    if (node.op() == ATTENTION_SCORE && attr_int(node, "tokens", 1) > 1) return true;
  }
  return false;
}
}  // namespace

Program lower(const Graph& graph, const Target& target, Graph* tiled) {
  TensorIndex tensors(graph);
  for (const Tensor& t : graph.tensors()) {
    if (!t.has_address()) {
      throw UserError("graph: tensor '" + t.name() + "' has no address; run placement first");
    }
  }
  ProgramBuilder builder(graph.name(), default_spm_layout(target.spm_capacity_bytes, target.arrays,
                                                          many_rows(graph) ? 6 : 2));
  LoweringContext ctx{graph, tensors, target, builder};
  if (tiled != nullptr) *tiled = graph;
  for (int i = 0; i < graph.nodes_size(); ++i) {
    const Node& node = graph.nodes(i);
    ctx.record = tiled != nullptr ? tiled->mutable_nodes(i) : nullptr;
    const LowerFn* fn = LoweringRegistry::find(node.op());
    if (fn == nullptr) {
      throw UserError(fmt::format("graph: node '{}': op {} has no lowering to the NPU", node.name(),
                                  OpType_Name(node.op())));
    }
    builder.set_node(node.name());
    (*fn)(node, ctx);
  }
  return builder.finish();
}

}  // namespace npusim::compiler

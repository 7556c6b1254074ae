// Data layout ops on the last axis, moved through the vector unit's buffers:
//   SLICE:  out = x[..., offset : offset + width]   (a strided load)
//   CONCAT: out = [x0, x1, ...]                      (strided stores)
#include <fmt/format.h>

#include <algorithm>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/vector_rows.h"

namespace npusim::compiler {
namespace {

void lower_slice(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() == 1 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "SLICE takes (x) and gives one output");
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const uint64_t width = last_dim(y), full = last_dim(x);
  const auto offset = static_cast<uint64_t>(attr_int(node, "offset", 0));
  require(offset + width <= full, "graph", "node '" + node.name() + "'.attrs.offset",
          "the slice must lie inside the input");
  copy_rows(ctx, node, x, offset, full, y, 0, width, num_elements(y) / width, width);
}

void lower_concat(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() >= 1 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "CONCAT takes inputs and gives one output");
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const uint64_t full = last_dim(y);
  const uint64_t rows = num_elements(y) / full;
  uint64_t offset = 0;
  for (const auto& name : node.inputs()) {
    const Tensor& x = ctx.tensors.at(name, node.name());
    const uint64_t width = last_dim(x);
    require(num_elements(x) == rows * width, "graph", "node '" + node.name() + "'",
            "input '" + name + "' does not have the output's rows");
    copy_rows(ctx, node, x, 0, width, y, offset, full, rows, width);
    offset += width;
  }
  require(offset == full, "graph", "node '" + node.name() + "'",
          "the inputs' widths must add up to the output's");
}

}  // namespace

NPUSIM_REGISTER_LOWERING(SLICE, lower_slice);
NPUSIM_REGISTER_LOWERING(CONCAT, lower_concat);

}  // namespace npusim::compiler

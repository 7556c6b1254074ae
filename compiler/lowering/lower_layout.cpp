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

uint64_t last_dim(const Tensor& t) {
  return static_cast<uint64_t>(t.shape(t.shape_size() - 1));
}

void lower_slice(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() == 1 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "SLICE takes (x) and gives one output");
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const uint64_t width = last_dim(y), full = last_dim(x);
  const auto offset = static_cast<uint64_t>(attr_int(node, "offset", 0));
  require(offset + width <= full, "graph", "node '" + node.name() + "'.attrs.offset",
          "the slice must lie inside the input");
  const uint64_t rows = num_elements(y) / width;
  const uint64_t row_bytes = dtype_bytes(x.dtype(), width);
  const uint64_t per = rows_per_slot(ctx, node, row_bytes);
  ProgramBuilder& b = ctx.builder;
  const uint32_t xt = ctx.tensor(x), yt = ctx.tensor(y);
  for (uint64_t r0 = 0; r0 < rows; r0 += per) {
    const uint64_t n = std::min(per, rows - r0);
    const Buffer in = b.acquire(Ring::VecIn);
    b.load(in, xt, x.address() + dtype_bytes(x.dtype(), r0 * full + offset), row_bytes, n,
           dtype_bytes(x.dtype(), full));
    const Buffer out = b.acquire(Ring::VecOut);
    b.vector(vector_op(COPY, n * width, y.dtype(), in, out), {in}, out);
    b.store(out, yt, y.address() + r0 * row_bytes, n * row_bytes);
  }
}

void lower_concat(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() >= 1 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "CONCAT takes inputs and gives one output");
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const uint64_t full = last_dim(y);
  const uint64_t rows = num_elements(y) / full;
  ProgramBuilder& b = ctx.builder;
  const uint32_t yt = ctx.tensor(y);
  uint64_t offset = 0;
  for (const auto& name : node.inputs()) {
    const Tensor& x = ctx.tensors.at(name, node.name());
    const uint64_t width = last_dim(x);
    require(num_elements(x) == rows * width, "graph", "node '" + node.name() + "'",
            "input '" + name + "' does not have the output's rows");
    const uint64_t row_bytes = dtype_bytes(x.dtype(), width);
    const uint64_t per = rows_per_slot(ctx, node, row_bytes);
    const uint32_t xt = ctx.tensor(x);
    for (uint64_t r0 = 0; r0 < rows; r0 += per) {
      const uint64_t n = std::min(per, rows - r0);
      const Buffer in = b.acquire(Ring::VecIn);
      b.load(in, xt, x.address() + r0 * row_bytes, n * row_bytes);
      const Buffer out = b.acquire(Ring::VecOut);
      b.vector(vector_op(COPY, n * width, y.dtype(), in, out), {in}, out);
      b.store(out, yt, y.address() + dtype_bytes(y.dtype(), r0 * full + offset),
              dtype_bytes(y.dtype(), width), n, dtype_bytes(y.dtype(), full));
    }
    offset += width;
  }
  require(offset == full, "graph", "node '" + node.name() + "'",
          "the inputs' widths must add up to the output's");
}

}  // namespace

NPUSIM_REGISTER_LOWERING(SLICE, lower_slice);
NPUSIM_REGISTER_LOWERING(CONCAT, lower_concat);

}  // namespace npusim::compiler

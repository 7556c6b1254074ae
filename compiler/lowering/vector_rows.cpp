#include "compiler/lowering/vector_rows.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"

namespace npusim::compiler {

uint64_t rows_per_slot(const LoweringContext& ctx, const Node& node, uint64_t row_bytes) {
  const auto& l = ctx.builder.layout();
  const uint64_t slot = std::min(l[Ring::VecIn].slot_bytes, l[Ring::VecOut].slot_bytes);
  require(row_bytes <= slot, ctx.target.where, "core.scratchpad.capacity_bytes",
          fmt::format("{} bytes is too small for node '{}': one row needs {} bytes",
                      ctx.target.spm_capacity_bytes, node.name(), row_bytes));
  return slot / row_bytes;
}

VectorOp vector_op(VectorKind kind, uint64_t length, DType dtype, const Buffer& in,
                   const Buffer& out) {
  VectorOp op;
  op.set_kind(kind);
  op.set_length(length);
  op.set_dtype(dtype);
  op.set_spm_in(in.spm_addr);
  op.set_spm_out(out.spm_addr);
  return op;
}

}  // namespace npusim::compiler

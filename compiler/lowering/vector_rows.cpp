#include "compiler/lowering/vector_rows.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/dtype.h"
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

void copy_rows(LoweringContext& ctx, const Node& node, const Tensor& x, uint64_t x_col,
               uint64_t x_ld, const Tensor& y, uint64_t y_col, uint64_t y_ld, uint64_t rows,
               uint64_t width) {
  const uint64_t row_in = dtype_bytes(x.dtype(), width), row_out = dtype_bytes(y.dtype(), width);
  const uint64_t per = rows_per_slot(ctx, node, std::max(row_in, row_out));
  ProgramBuilder& b = ctx.builder;
  const uint32_t xt = ctx.tensor(x), yt = ctx.tensor(y);
  for (uint64_t r0 = 0; r0 < rows; r0 += per) {
    const uint64_t n = std::min(per, rows - r0);
    const Buffer in = b.acquire(Ring::VecIn);
    b.load(in, xt, x.address() + dtype_bytes(x.dtype(), x_col + r0 * x_ld), row_in, n,
           dtype_bytes(x.dtype(), x_ld));
    const Buffer out = b.acquire(Ring::VecOut);
    b.vector(vector_op(COPY, n * width, y.dtype(), in, out), {in}, out);
    b.store(out, yt, y.address() + dtype_bytes(y.dtype(), y_col + r0 * y_ld), row_out, n,
            dtype_bytes(y.dtype(), y_ld));
  }
}

void gather_rows(LoweringContext& ctx, const Node& node, const Tensor& x,
                 const std::vector<uint64_t>& src, const Tensor& y, uint64_t width) {
  const uint64_t row_in = dtype_bytes(x.dtype(), width), row_out = dtype_bytes(y.dtype(), width);
  const uint64_t per = rows_per_slot(ctx, node, std::max(row_in, row_out));
  ProgramBuilder& b = ctx.builder;
  const uint32_t xt = ctx.tensor(x), yt = ctx.tensor(y);
  const std::optional<OnChipTensor> y_on_chip = ctx.on_chip_output(y);
  for (size_t i0 = 0; i0 < src.size(); i0 += per) {
    const size_t n = std::min<size_t>(per, src.size() - i0);
    const bool any = std::any_of(src.begin() + static_cast<std::ptrdiff_t>(i0),
                                 src.begin() + static_cast<std::ptrdiff_t>(i0 + n),
                                 [](uint64_t r) { return r != kOtherShardRow; });
    const Buffer out = [&] {
      if (!any) return y_on_chip ? y_on_chip->at(i0 * width) : b.acquire(Ring::VecOut);
      const Buffer in = b.acquire(Ring::VecIn);
      for (size_t i = 0; i < n; ++i) {
        if (src[i0 + i] == kOtherShardRow) continue;
        b.load(in.at(i * row_in), xt, x.address() + src[i0 + i] * row_in, row_in);
      }
      const Buffer copied = y_on_chip ? y_on_chip->at(i0 * width) : b.acquire(Ring::VecOut);
      b.vector(vector_op(COPY, n * width, y.dtype(), in, copied), {in}, copied);
      return copied;
    }();
    // Rows another core holds are zeros here (runs of them, one FILL each).
    for (size_t i = 0; i < n;) {
      if (src[i0 + i] != kOtherShardRow) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < n && src[i0 + j] == kOtherShardRow) ++j;
      const Buffer zeros = out.at(i * row_out);
      b.vector(vector_op(FILL, (j - i) * width, y.dtype(), zeros, zeros), {}, zeros);
      i = j;
    }
    if (!y_on_chip) b.store(out, yt, y.address() + i0 * row_out, n * row_out);
  }
}

}  // namespace npusim::compiler

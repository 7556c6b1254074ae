#include "compiler/lowering/lower_pim.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"

namespace npusim::compiler {

void lower_pim_matmul(const Node& node, LoweringContext& ctx) {
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& w = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const auto k = static_cast<uint64_t>(w.shape(0)), n = static_cast<uint64_t>(w.shape(1));
  const uint64_t rows = num_elements(x) / k;
  const uint64_t slot = ctx.builder.layout()[Ring::VecIn].slot_bytes;
  const uint64_t per_request = std::min(rows, slot / (2 * std::max(k, n)));
  if (per_request == 0) {
    throw std::logic_error(
        fmt::format("node '{}': a PIM GEMV's row of {} x {} does not fit a {}-byte slot",
                    node.name(), k, n, slot));
  }
  const uint32_t xt = ctx.tensor(x), wt = ctx.tensor(w), yt = ctx.tensor(y);
  ctx.builder.reserve(3 * ((rows + per_request - 1) / per_request));
  for (uint64_t r = 0; r < rows; r += per_request) {
    const uint64_t v = std::min(per_request, rows - r);
    const Buffer in = ctx.builder.acquire(Ring::VecIn);
    ctx.builder.load(in, xt, x.address() + r * k * 2, v * k * 2);
    const Buffer out = ctx.builder.acquire(Ring::VecIn);
    PimOp op;
    op.set_dram_addr(w.address());
    op.set_out_rows(static_cast<uint32_t>(n));
    op.set_in_cols(static_cast<uint32_t>(k));
    op.set_vectors(static_cast<uint32_t>(v));
    op.set_dtype(w.dtype());
    op.set_spm_in(in.spm_addr);
    op.set_spm_out(out.spm_addr);
    op.set_tensor(wt);
    op.set_tensor_class(WEIGHT);
    ctx.builder.pim(op, in, out);
    ctx.builder.store(out, yt, y.address() + r * n * 2, v * n * 2);
  }
  ctx.note("pim.requests", static_cast<int64_t>((rows + per_request - 1) / per_request));
  ctx.note("pim.vectors_per_request", static_cast<int64_t>(per_request));
}

}  // namespace npusim::compiler

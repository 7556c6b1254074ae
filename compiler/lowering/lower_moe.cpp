// Moving tokens to and from mixture-of-experts experts:
//   GATHER_ROWS:  out[i, :] = x[rows[i], :]            (dispatch)
//   SCATTER_ADD:  out = acc; out[rows[i], :] += part[i, :]   (combine)
// Rows move one DMA each through the vector unit's buffers.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/vector_rows.h"

namespace npusim::compiler {
namespace {

void lower_gather(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() == 1 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "GATHER_ROWS takes (x) and gives one output");
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const auto width = last_dim(x);
  const auto rows = listed_rows(node, num_elements(x) / width);
  require(rows.size() * width == num_elements(out), "graph", "node '" + node.name() + "'",
          "the output must hold one row per listed row");
  gather_rows(ctx, node, x, rows, out, width);
}

void lower_scatter_add(const Node& node, LoweringContext& ctx) {
  require((node.inputs_size() == 1 || node.inputs_size() == 2) && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "SCATTER_ADD takes (part[, acc]) and gives one output");
  const Tensor& part = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor* acc =
      node.inputs_size() == 2 ? &ctx.tensors.at(node.inputs(1), node.name()) : nullptr;
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const auto width = last_dim(out);
  const uint64_t total_rows = num_elements(out) / width;
  const auto rows = listed_rows(node, total_rows);
  require(rows.size() * width == num_elements(part), "graph", "node '" + node.name() + "'",
          "the part must hold one row per listed row");
  const uint64_t row_bytes = dtype_bytes(out.dtype(), width);
  const uint64_t per = rows_per_slot(ctx, node, row_bytes);
  ProgramBuilder& b = ctx.builder;
  const uint32_t pt = ctx.tensor(part), ot = ctx.tensor(out);
  const uint32_t at_t = acc != nullptr ? ctx.tensor(*acc) : 0;
  // Output rows in chunks: the accumulator's rows, plus the part rows landing there.
  b.reserve((total_rows + per - 1) / per);  // a vector op per chunk, at least
  std::vector<std::vector<size_t>> landing((total_rows + per - 1) / per);
  for (size_t i = 0; i < rows.size(); ++i) landing[rows[i] / per].push_back(i);
  for (uint64_t r0 = 0; r0 < total_rows; r0 += per) {
    const uint64_t n = std::min(per, total_rows - r0);
    std::vector<Buffer> reads;
    if (acc != nullptr) {
      reads.push_back(b.acquire(Ring::VecIn));
      b.load(reads.back(), at_t, acc->address() + r0 * row_bytes, n * row_bytes);
    }
    Buffer parts{};
    uint64_t landed = 0;
    for (size_t i : landing[r0 / per]) {
      if (landed == 0) parts = b.acquire(Ring::VecIn);
      b.load(parts.at(landed * row_bytes), pt, part.address() + i * row_bytes, row_bytes);
      ++landed;
    }
    if (landed > 0) reads.push_back(parts);
    // Accumulator plus parts is an ADD; one of them alone is copied. With
    // neither the chunk is zeros: the vector unit writes them from no input.
    const Buffer o = b.acquire(Ring::VecOut);
    VectorOp op = vector_op(reads.size() == 2 ? ADD : COPY, n * width, out.dtype(), o, o);
    if (!reads.empty()) op.set_spm_in(reads.front().spm_addr);
    if (reads.size() == 2) op.set_spm_in2(reads[1].spm_addr);
    b.vector(op, reads, o);
    b.store(o, ot, out.address() + r0 * row_bytes, n * row_bytes);
  }
}

}  // namespace

NPUSIM_REGISTER_LOWERING(GATHER_ROWS, lower_gather);
NPUSIM_REGISTER_LOWERING(SCATTER_ADD, lower_scatter_add);

}  // namespace npusim::compiler

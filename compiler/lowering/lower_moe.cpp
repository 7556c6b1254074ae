// Moving tokens to and from mixture-of-experts experts:
//   GATHER_ROWS:  out[i, :] = x[rows[i], :]            (dispatch)
//   SCATTER_ADD:  out = acc; out[rows[i], :] += part[i, :]   (combine)
// Rows move one DMA each through the vector unit's buffers; a combine adds
// each run of adjacent landing rows with one vector op.
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
  b.reserve((total_rows + per - 1) / per);  // a vector op per chunk, at least
  // Part rows by the chunk of output rows they land in, in listed order.
  std::vector<std::vector<size_t>> landing((total_rows + per - 1) / per);
  for (size_t i = 0; i < rows.size(); ++i) landing[rows[i] / per].push_back(i);
  for (uint64_t r0 = 0; r0 < total_rows; r0 += per) {
    const uint64_t n = std::min(per, total_rows - r0);
    // The chunk starts as the accumulator's rows (a copy), or zeros.
    const Buffer o = b.acquire(Ring::VecOut);
    if (acc != nullptr) {
      const Buffer a = b.acquire(Ring::VecIn);
      b.load(a, at_t, acc->address() + r0 * row_bytes, n * row_bytes);
      b.vector(vector_op(COPY, n * width, out.dtype(), a, o), {a}, o);
    } else {
      b.vector(vector_op(FILL, n * width, out.dtype(), o, o), {}, o);
    }
    // Then the part rows are added where they land: each pass loads at most
    // one part row per output row (a row listed twice lands in two passes)
    // at its place in a buffer, and adds each run of adjacent landed rows.
    std::vector<size_t> left = landing[r0 / per];
    while (!left.empty()) {
      std::vector<bool> taken(n, false);
      std::vector<size_t> later;
      const Buffer p = b.acquire(Ring::VecIn);
      for (size_t i : left) {
        const uint64_t at = rows[i] - r0;
        if (taken[at]) {
          later.push_back(i);
          continue;
        }
        taken[at] = true;
        b.load(p.at(at * row_bytes), pt, part.address() + i * row_bytes, row_bytes);
      }
      for (uint64_t s = 0; s < n;) {
        if (!taken[s]) {
          ++s;
          continue;
        }
        uint64_t e = s;
        while (e < n && taken[e]) ++e;
        VectorOp add =
            vector_op(ADD, (e - s) * width, out.dtype(), o.at(s * row_bytes), o.at(s * row_bytes));
        add.set_spm_in2(p.at(s * row_bytes).spm_addr);
        b.vector(add, {p}, o);
        s = e;
      }
      left = std::move(later);
    }
    b.store(o, ot, out.address() + r0 * row_bytes, n * row_bytes);
  }
}

}  // namespace

NPUSIM_REGISTER_LOWERING(GATHER_ROWS, lower_gather);
NPUSIM_REGISTER_LOWERING(SCATTER_ADD, lower_scatter_add);

}  // namespace npusim::compiler

// Moving tokens to and from mixture-of-experts experts:
//   GATHER_ROWS:  out[i, :] = x[rows[i], :]            (dispatch)
//   SCATTER_ADD:  out = acc; out[rows[i], :] += part[i, :]   (combine;
//                 gated: part[i, :] * gates[rows[i], slots[i]])
//   MOE_GATES:    out[b, j] = probs[b, e_bj] / sum_j probs[b, e_bj]
// Rows move one DMA each through the vector unit's buffers; a combine adds
// each run of adjacent landing rows with one vector op.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "common/dtype.h"
#include "common/error.h"
#include "common/integer.h"
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
  require(node.inputs_size() >= 1 && node.inputs_size() <= 3 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'",
          "SCATTER_ADD takes (part[, acc][, gates]) and gives one output");
  const bool gated = node.attrs().count("slots") != 0;
  const Tensor& part = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor* acc =
      node.inputs_size() == 2 + gated ? &ctx.tensors.at(node.inputs(1), node.name()) : nullptr;
  const Tensor* gates =
      gated ? &ctx.tensors.at(node.inputs(node.inputs_size() - 1), node.name()) : nullptr;
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const auto width = last_dim(out);
  const uint64_t total_rows = num_elements(out) / width;
  const auto rows = listed_rows(node, total_rows);
  require(rows.size() * width == num_elements(part), "graph", "node '" + node.name() + "'",
          "the part must hold one row per listed row");
  const uint64_t row_bytes = dtype_bytes(out.dtype(), width);
  // A row of the output, or its fp32 gate, whichever is wider.
  const uint64_t per = rows_per_slot(ctx, node, std::max<uint64_t>(row_bytes, gated ? 4 : 0));
  ProgramBuilder& b = ctx.builder;
  const uint32_t pt = ctx.tensor(part), ot = ctx.tensor(out);
  const uint32_t at_t = acc != nullptr ? ctx.tensor(*acc) : 0;
  // Gated: part row i is weighed by gates[rows[i], slots[i]] (one element
  // each, converted to the fp32 row scales ROW_SCALE_ADD reads).
  const uint64_t k = gated ? last_dim(*gates) : 0;
  const std::vector<uint64_t> slots =
      gated ? listed_rows(node, k, "slots") : std::vector<uint64_t>{};
  const uint32_t gt = gated ? ctx.tensor(*gates) : 0;
  const uint64_t gate_bytes = gated ? dtype_bytes(gates->dtype(), 1) : 0;
  b.reserve(ceil_div(total_rows, per));  // a vector op per chunk, at least
  // Part rows by the chunk of output rows they land in, in listed order.
  std::vector<std::vector<size_t>> landing(ceil_div(total_rows, per));
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
      const Buffer g = gated ? b.acquire(Ring::VecIn) : Buffer{};
      for (size_t i : left) {
        const uint64_t at = rows[i] - r0;
        if (taken[at]) {
          later.push_back(i);
          continue;
        }
        taken[at] = true;
        b.load(p.at(at * row_bytes), pt, part.address() + i * row_bytes, row_bytes);
        if (gated) {
          b.load(g.at(at * gate_bytes), gt,
                 gates->address() + dtype_bytes(gates->dtype(), rows[i] * k + slots[i]),
                 gate_bytes);
        }
      }
      Buffer scales{};
      if (gated) {  // the gates as fp32 row scales (of rows no part lands on: unread)
        scales = b.acquire(Ring::VecOut);
        VectorOp widen = vector_op(COPY, n, gates->dtype(), g, scales);
        widen.set_out_dtype(FP32);
        b.vector(widen, {g}, scales);
      }
      for (uint64_t s = 0; s < n;) {
        if (!taken[s]) {
          ++s;
          continue;
        }
        uint64_t e = s;
        while (e < n && taken[e]) ++e;
        if (gated) {  // o = p * gate + o, row by row
          VectorOp add = vector_op(ROW_SCALE_ADD, (e - s) * width, out.dtype(), p.at(s * row_bytes),
                                   o.at(s * row_bytes));
          add.set_row_length(width);
          add.set_spm_in2(o.at(s * row_bytes).spm_addr);
          add.set_spm_in3(scales.at(s * 4).spm_addr);
          b.vector(add, {p, scales}, o);
        } else {
          VectorOp add = vector_op(ADD, (e - s) * width, out.dtype(), o.at(s * row_bytes),
                                   o.at(s * row_bytes));
          add.set_spm_in2(p.at(s * row_bytes).spm_addr);
          b.vector(add, {p}, o);
        }
        s = e;
      }
      left = std::move(later);
    }
    b.store(o, ot, out.address() + r0 * row_bytes, n * row_bytes);
  }
}

// MOE_GATES: per chunk of rows, each row's k chosen probabilities (one
// element DMA each), their sum per row (fp32), and the division.
void lower_moe_gates(const Node& node, LoweringContext& ctx) {
  require(node.inputs_size() == 1 && node.outputs_size() == 1, "graph",
          "node '" + node.name() + "'", "MOE_GATES takes (probs) and gives one output");
  const Tensor& probs = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const uint64_t experts = last_dim(probs), k = last_dim(out);
  const uint64_t rows = num_elements(out) / k;
  const std::vector<uint64_t> chosen = listed_rows(node, experts, "experts");
  const DType dt = out.dtype();
  const uint64_t elt = dtype_bytes(dt, 1);
  const uint64_t per = rows_per_slot(ctx, node, std::max(dtype_bytes(dt, k), dtype_bytes(FP32, k)));
  ProgramBuilder& b = ctx.builder;
  const uint32_t pt = ctx.tensor(probs), ot = ctx.tensor(out);
  b.reserve(ceil_div(rows, per));
  for (uint64_t r0 = 0; r0 < rows; r0 += per) {
    const uint64_t n = std::min(per, rows - r0);
    const Buffer in = b.acquire(Ring::VecIn);
    for (uint64_t i = 0; i < n * k; ++i) {
      const uint64_t r = r0 + i / k;
      b.load(in.at(i * elt), pt,
             probs.address() + dtype_bytes(dt, r * experts + chosen[r * k + i % k]), elt);
    }
    const Buffer sums = b.acquire(Ring::VecOut);
    VectorOp sum = vector_op(REDUCE_SUM, n * k, dt, in, sums);
    sum.set_row_length(k);
    sum.set_out_dtype(FP32);
    b.vector(sum, {in}, sums);
    const Buffer o = b.acquire(Ring::VecOut);
    VectorOp divide = vector_op(ROW_DIV, n * k, dt, in, o);
    divide.set_row_length(k);
    divide.set_spm_in3(sums.spm_addr);
    b.vector(divide, {in, sums}, o);
    b.store(o, ot, out.address() + dtype_bytes(dt, r0 * k), dtype_bytes(dt, n * k));
  }
}

}  // namespace

NPUSIM_REGISTER_LOWERING(MOE_GATES, lower_moe_gates);
NPUSIM_REGISTER_LOWERING(GATHER_ROWS, lower_gather);
NPUSIM_REGISTER_LOWERING(SCATTER_ADD, lower_scatter_add);

}  // namespace npusim::compiler

// EMBEDDING: out[b, :] = table[row(b), :]. The row is the node's "row"
// attribute (a position), or a token id drawn from its "seed" (npusim moves
// no data; ids only decide which rows are read). Rows are gathered by one
// DMA each, converted by the vector unit and stored.
#include <fmt/format.h>

#include <algorithm>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/vector_rows.h"

namespace npusim::compiler {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void lower_embedding(const Node& node, LoweringContext& ctx) {
  const std::string where = "node '" + node.name() + "'";
  require(node.inputs_size() == 1 && node.outputs_size() == 1, "graph", where,
          "EMBEDDING takes (table) and gives one output");
  const Tensor& table = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  require(table.shape_size() == 2, "graph", where, "the table must be [rows, width]");
  const auto rows = static_cast<uint64_t>(table.shape(0));
  const auto width = static_cast<uint64_t>(table.shape(1));
  require(num_elements(out) % width == 0, "graph", where, "output rows must match the table width");
  const uint64_t batch = num_elements(out) / width;
  const int64_t fixed = attr_int(node, "row", -1);
  // With a fixed row, output row r of a step of `tokens` tokens reads row
  // fixed + r % tokens (consecutive positions).
  const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
  require(fixed < 0 || static_cast<uint64_t>(fixed) + tokens <= rows, "graph", where + ".attrs.row",
          "past the table");
  const auto seed = static_cast<uint64_t>(attr_int(node, "seed", 0));

  ProgramBuilder& b = ctx.builder;
  const uint64_t row_in = dtype_bytes(table.dtype(), width);
  const uint64_t row_out = dtype_bytes(out.dtype(), width);
  const uint64_t per_tile = rows_per_slot(ctx, node, std::max(row_in, row_out));
  const uint32_t tt = ctx.tensor(table), ot = ctx.tensor(out);
  for (uint64_t b0 = 0; b0 < batch; b0 += per_tile) {
    const uint64_t n = std::min(per_tile, batch - b0);
    const Buffer in = b.acquire(Ring::VecIn);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t row = fixed >= 0 ? static_cast<uint64_t>(fixed) + (b0 + i) % tokens
                                      : splitmix64(seed * 1000003 + b0 + i) % rows;
      Buffer at = in;
      at.spm_addr += i * row_in;
      b.load(at, tt, table.address() + row * row_in, row_in);
    }
    const Buffer o = b.acquire(Ring::VecOut);
    b.vector(vector_op(COPY, n * width, out.dtype(), in, o), {in}, o);
    b.store(o, ot, out.address() + b0 * row_out, n * row_out);
  }
}

}  // namespace

NPUSIM_REGISTER_LOWERING(EMBEDDING, lower_embedding);

}  // namespace npusim::compiler

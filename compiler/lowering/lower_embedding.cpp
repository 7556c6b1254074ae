// EMBEDDING: out[b, :] = table[row(b), :]. The row is the node's "row"
// attribute (a position), or a token id drawn from its "seed" (npusim moves
// no data; ids only decide which rows are read). Rows are gathered by one
// DMA each, converted by the vector unit and stored. A table split by
// vocabulary gives zeros for the rows other cores hold.
#include <fmt/format.h>

#include <algorithm>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/vector_rows.h"

namespace npusim::compiler {
namespace {

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
  // Split by vocabulary (tensor_parallel.h): this core's block of a table
  // of `shards` blocks, the block its place in the ring gives.
  const auto shards = static_cast<uint64_t>(attr_int(node, "vocab_shards", 1));
  const auto rank = static_cast<uint32_t>(
      std::find(ctx.target.ring.begin(), ctx.target.ring.end(), ctx.target.core) -
      ctx.target.ring.begin());
  require(shards == 1 || shards == ctx.target.ring.size(), "graph", where + ".attrs.vocab_shards",
          fmt::format("{} blocks over a ring of {} cores", shards, ctx.target.ring.size()));
  const int64_t fixed = attr_int(node, "row", -1);
  // With a fixed row, output row r of a step of `tokens` tokens reads row
  // fixed + r % tokens (consecutive positions).
  const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
  require(fixed < 0 || static_cast<uint64_t>(fixed) + tokens <= rows * shards, "graph",
          where + ".attrs.row", "past the table");
  ctx.builder.reserve(batch);  // a DMA per row, at least
  gather_rows(ctx, node, table, embedding_shard_rows(node, rows, batch, rank), out, width);
}

}  // namespace

// The gathered rows may stay on chip for the first layer.
NPUSIM_REGISTER_LOWERING_ON_CHIP(EMBEDDING, lower_embedding, (OnChipOperands{VECTOR, 0, true}));

}  // namespace npusim::compiler

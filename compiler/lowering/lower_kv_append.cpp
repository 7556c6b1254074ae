// KV_APPEND: writes the new tokens' keys or values [B * tokens, kv_heads * d]
// into the cache [B, kv_heads, L, d] at `position` onwards. The vector unit converts the rows
// to the cache's precision; in decode each sequence is one strided store, in
// prefill each head's run of tokens is one contiguous store.
#include <fmt/format.h>

#include <algorithm>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/vector_rows.h"

namespace npusim::compiler {
namespace {

void lower_kv_append(const Node& node, LoweringContext& ctx) {
  const std::string where = "node '" + node.name() + "'";
  require(node.inputs_size() == 2 && node.outputs_size() == 1, "graph", where,
          "KV_APPEND takes (new rows, cache) and gives the cache");
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& cache = ctx.tensors.at(node.inputs(1), node.name());
  const auto [batch, kv_heads, len, d] = cache_shape(cache, node.name());
  const auto pos = static_cast<uint64_t>(attr_int(node, "position", 0));
  const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
  require(tokens >= 1 && pos + tokens <= len, "graph", where + ".attrs.position",
          "the new tokens must fit inside the cache");
  const uint64_t row = kv_heads * d;
  require(num_elements(x) == batch * tokens * row, "graph", where,
          "new rows do not match the cache");

  ProgramBuilder& b = ctx.builder;
  const uint64_t row_bytes = std::max(dtype_bytes(x.dtype(), row), dtype_bytes(cache.dtype(), row));
  const uint64_t rows_per_tile = rows_per_slot(ctx, node, row_bytes);
  const uint32_t xt = ctx.tensor(x), ct = ctx.tensor(cache);
  const uint64_t total = batch * tokens;  // rows: token t of sequence b is row b * tokens + t
  const std::optional<OnChipTensor> x_on_chip = ctx.on_chip_input(x);
  // A cache a PIM memory computes attention with is written through its
  // layout (isa.proto DmaOp.pim).
  std::optional<PimRegionRef> pim;
  if (cache.has_pim()) {
    pim.emplace();
    pim->set_region(cache.address());
    pim->set_out_rows(cache.pim().out_rows());
    pim->set_in_cols(cache.pim().in_cols());
    pim->set_blocks(cache.pim().blocks());
    pim->set_outputs_major(cache.pim().outputs_major());
  }
  const PimRegionRef* through = pim ? &*pim : nullptr;
  for (uint64_t b0 = 0; b0 < total; b0 += rows_per_tile) {
    const uint64_t rows = std::min(rows_per_tile, total - b0);
    Buffer in{};
    if (x_on_chip) {
      in = x_on_chip->at(b0 * row);
    } else {
      in = b.acquire(Ring::VecIn);
      b.load(in, xt, x.address() + dtype_bytes(x.dtype(), b0 * row),
             dtype_bytes(x.dtype(), rows * row));
    }
    const Buffer out = b.acquire(Ring::VecOut);
    VectorOp copy = vector_op(COPY, rows * row, cache.dtype(), in, out);
    if (tokens > 1) {  // head by head: see below
      copy.set_row_length(d);
      copy.set_transpose_rows(rows);
    }
    b.vector(copy, {in}, out);
    if (tokens == 1) {
      // One token per sequence: its kv_heads rows of d, len * d apart.
      for (uint64_t r = b0; r < b0 + rows; ++r) {
        b.store(out.at(dtype_bytes(cache.dtype(), (r - b0) * row)), ct,
                cache.address() + dtype_bytes(cache.dtype(), (r * kv_heads * len + pos) * d),
                dtype_bytes(cache.dtype(), d), kv_heads, dtype_bytes(cache.dtype(), len * d),
                through);
      }
      continue;
    }
    // Several tokens per sequence (prefill): the copy leaves the tile head by
    // head ([head][row][d]), so that each head's run of consecutive tokens
    // of one sequence is one contiguous store into the cache.
    for (uint64_t r = b0; r < b0 + rows;) {
      const uint64_t seq = r / tokens, at = pos + r % tokens;
      const uint64_t n = std::min(b0 + rows, (seq + 1) * tokens) - r;
      for (uint64_t h = 0; h < kv_heads; ++h) {
        b.store(out.at(dtype_bytes(cache.dtype(), (h * rows + (r - b0)) * d)), ct,
                cache.address() + dtype_bytes(cache.dtype(), ((seq * kv_heads + h) * len + at) * d),
                dtype_bytes(cache.dtype(), n * d), 1, 0, through);
      }
      r += n;
    }
  }
}

}  // namespace

// The new rows (input 0) may come from the scratchpad.
NPUSIM_REGISTER_LOWERING_ON_CHIP(KV_APPEND, lower_kv_append, (OnChipOperands{VECTOR, 1, false}));

}  // namespace npusim::compiler

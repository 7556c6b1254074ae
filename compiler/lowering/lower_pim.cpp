#include "compiler/lowering/lower_pim.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "common/integer.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {

void lower_pim_matmul(const Node& node, LoweringContext& ctx) {
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& w = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const auto k = static_cast<uint64_t>(w.shape(0)), n = static_cast<uint64_t>(w.shape(1));
  const uint64_t rows = num_elements(x) / k;
  const uint64_t slot = ctx.builder.layout()[Ring::VecIn].slot_bytes;
  const uint64_t per_request = std::min(rows, pim_vectors_per_request(slot, n, k));
  if (per_request == 0) {
    throw std::logic_error(
        fmt::format("node '{}': a PIM GEMV's row of {} x {} does not fit a {}-byte slot",
                    node.name(), k, n, slot));
  }
  const uint32_t xt = ctx.tensor(x), wt = ctx.tensor(w), yt = ctx.tensor(y);
  ctx.builder.reserve(3 * ceil_div(rows, per_request));
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
  ctx.note("pim.requests", static_cast<int64_t>(ceil_div(rows, per_request)));
  ctx.note("pim.vectors_per_request", static_cast<int64_t>(per_request));
}

void lower_pim_attention(const Node& node, LoweringContext& ctx, bool score) {
  const Tensor& in = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& cache = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const CacheShape cs = cache_shape(cache, node.name());
  const AttentionShape a = attention_shape(node, cs);
  const PimMatrix& matrix = cache.pim();
  const uint64_t m = matrix.out_rows(), k = matrix.in_cols();
  if (matrix.blocks() != cs.batch * cs.kv_heads || m != (score ? cs.len : cs.head_dim) ||
      k != (score ? cs.head_dim : cs.len) || matrix.outputs_major() != score) {
    throw std::logic_error(
        fmt::format("node '{}': the cache's PIM layout does not match the node", node.name()));
  }
  const uint64_t slot = ctx.builder.layout()[Ring::VecIn].slot_bytes;
  const uint64_t per_load = pim_heads_per_request(slot, a.group, m, k, cs.kv_heads);
  if (per_load == 0) {
    throw std::logic_error(fmt::format(
        "node '{}': a head's inputs or results do not fit a {}-byte slot", node.name(), slot));
  }
  const uint32_t in_t = ctx.tensor(in), cache_t = ctx.tensor(cache), out_t = ctx.tensor(out);
  const uint64_t loads = cs.batch * ceil_div(cs.kv_heads, per_load);
  ctx.builder.reserve(loads * (2 + per_load));
  for (uint64_t b = 0; b < cs.batch; ++b) {
    for (uint64_t g0 = 0; g0 < cs.kv_heads; g0 += per_load) {
      const uint64_t n = std::min(per_load, cs.kv_heads - g0);
      const uint64_t head0 = b * a.heads + g0 * a.group;  // the first query head's row
      const Buffer x = ctx.builder.acquire(Ring::VecIn);
      ctx.builder.load(x, in_t, in.address() + head0 * k * 2, n * a.group * k * 2);
      const Buffer y = ctx.builder.acquire(Ring::VecIn);
      for (uint64_t g = 0; g < n; ++g) {
        const Buffer xg = x.at(g * a.group * k * 2), yg = y.at(g * a.group * m * 2);
        PimOp op;
        op.set_dram_addr(cache.address());
        op.set_out_rows(static_cast<uint32_t>(m));
        op.set_in_cols(static_cast<uint32_t>(k));
        op.set_vectors(static_cast<uint32_t>(a.group));
        op.set_dtype(cache.dtype());
        op.set_spm_in(xg.spm_addr);
        op.set_spm_out(yg.spm_addr);
        op.set_tensor(cache_t);
        op.set_tensor_class(KV_CACHE);
        op.set_blocks(matrix.blocks());
        op.set_block(static_cast<uint32_t>(b * cs.kv_heads + g0 + g));
        op.set_outputs_major(score);
        ctx.builder.pim(op, xg, yg);
      }
      ctx.builder.store(y, out_t, out.address() + head0 * m * 2, n * a.group * m * 2);
    }
  }
  ctx.note("pim.requests", static_cast<int64_t>(cs.batch * cs.kv_heads));
  ctx.note("pim.heads_per_load", static_cast<int64_t>(per_load));
}

}  // namespace npusim::compiler

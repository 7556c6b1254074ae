// Decode attention with grouped-query heads, per sequence b and KV head g:
//   ATTENTION_SCORE:   scores[b, group, L] = q[b, group, d] x K_cache[b, g]^T
//   ATTENTION_CONTEXT: context[b, group, d] = probs[b, group, L] x V_cache[b, g]
// where `group` = heads / kv_heads query heads share one cache block [L, d].
#include <fmt/format.h>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/gemm.h"

namespace npusim::compiler {
namespace {

void lower_attention(const Node& node, LoweringContext& ctx, bool score) {
  const std::string where = "node '" + node.name() + "'";
  require(node.inputs_size() == 2 && node.outputs_size() == 1, "graph", where,
          "attention takes (activations, cache) and gives one output");
  const Tensor& in = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& cache = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const auto [batch, kv_heads, len, d] = cache_shape(cache, node.name());
  const auto heads = static_cast<uint64_t>(attr_int(node, "heads", 0));
  require(heads > 0 && heads % kv_heads == 0, "graph", where + ".attrs.heads",
          "must be a positive multiple of the cache's kv heads");
  const uint64_t group = heads / kv_heads;

  GemmSpec spec;
  spec.node = node.name();
  spec.m = group;
  spec.k = score ? d : len;
  spec.n = score ? len : d;
  spec.b_layout = score ? BLayout::NK : BLayout::KN;
  // One batched GEMM per sequence: its kv_heads problems share the q (or
  // probs) rows of the sequence and write one block of outputs.
  spec.batch = kv_heads;
  spec.b_batch_stride = len * d;
  spec.a.dtype = in.dtype();
  spec.b.dtype = cache.dtype();
  spec.out.dtype = out.dtype();
  const GemmTiling tiling = choose_gemm_tiling(spec, ctx.target, ctx.builder.layout());
  const uint32_t in_t = ctx.tensor(in), cache_t = ctx.tensor(cache), out_t = ctx.tensor(out);
  for (uint64_t b = 0; b < batch; ++b) {
    const uint64_t head0 = b * heads;  // first query head of the sequence
    spec.a = {in_t, in.address() + dtype_bytes(in.dtype(), head0 * spec.k), in.dtype()};
    spec.b = {cache_t, cache.address() + dtype_bytes(cache.dtype(), b * kv_heads * len * d),
              cache.dtype()};
    spec.out = {out_t, out.address() + dtype_bytes(out.dtype(), head0 * spec.n), out.dtype()};
    lower_gemm(spec, tiling, ctx);
  }
}

}  // namespace

NPUSIM_REGISTER_LOWERING(ATTENTION_SCORE,
                         [](const Node& n, LoweringContext& c) { lower_attention(n, c, true); });
NPUSIM_REGISTER_LOWERING(ATTENTION_CONTEXT,
                         [](const Node& n, LoweringContext& c) { lower_attention(n, c, false); });

}  // namespace npusim::compiler

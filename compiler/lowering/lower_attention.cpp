// Attention with grouped-query heads, per sequence b and KV head g:
//   ATTENTION_SCORE:   scores[b, h, t, L] = q[b, t, h, d] x K_cache[b, g]^T
//   ATTENTION_CONTEXT: context[b, t, h, d] = probs[b, h, t, L] x V_cache[b, g]
// where `group` = heads / kv_heads query heads h share one cache block [L, d]
// and t runs over the step's new tokens (1 in decode).
#include <fmt/format.h>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/gemm.h"
#include "compiler/lowering/lower_pim.h"

namespace npusim::compiler {

GemmSpec attention_gemm(uint64_t batch, uint64_t kv_heads, uint64_t len, uint64_t d, uint64_t group,
                        uint64_t tokens, bool score) {
  GemmSpec spec;
  spec.k = score ? d : len;
  spec.n = score ? len : d;
  spec.b_layout = score ? BLayout::NK : BLayout::KN;
  spec.b_batch_stride = len * d;
  if (tokens == 1) {
    // Decode: one batched GEMM whose problems, sequence by sequence and KV
    // head by KV head, each take the `group` query heads sharing a KV head
    // (contiguous rows; the caches' blocks follow one another likewise), so
    // that all of them can keep the arrays busy (GemmTiling::problems).
    spec.m = group;
    spec.batch = batch * kv_heads;
  } else {
    // Prefill: per sequence, one problem per query head of `tokens` rows;
    // `group` heads share each KV block. Q and the context are [tokens,
    // heads * d]: a head's rows are heads * d apart.
    const uint64_t heads = group * kv_heads;
    spec.m = tokens;
    spec.batch = heads;
    spec.b_group = group;
    if (score) {
      spec.a_row_stride = heads * d;
      spec.a_batch_stride = d;
    } else {
      spec.out_row_stride = heads * d;
      spec.out_batch_stride = d;
    }
  }
  return spec;
}

namespace {

void lower_attention(const Node& node, LoweringContext& ctx, bool score) {
  const std::string where = "node '" + node.name() + "'";
  require(node.inputs_size() == 2 && node.outputs_size() == 1, "graph", where,
          "attention takes (activations, cache) and gives one output");
  const Tensor& in = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& cache = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const auto [batch, kv_heads, len, d] = cache_shape(cache, node.name());
  const auto [heads, group, tokens] = attention_shape(node, {batch, kv_heads, len, d});
  if (attr_int(node, "pim", 0) != 0) {
    lower_pim_attention(node, ctx, score);  // compiler/passes/pim_offload.h chose PIM
    return;
  }

  GemmSpec spec = attention_gemm(batch, kv_heads, len, d, group, tokens, score);
  spec.node = node.name();
  spec.a.dtype = in.dtype();
  spec.b.dtype = cache.dtype();
  spec.out.dtype = out.dtype();
  const std::optional<OnChipTensor> in_on_chip = ctx.on_chip_input(in);
  const std::optional<OnChipTensor> out_on_chip = ctx.on_chip_output(out);
  spec.a.on_chip = in_on_chip;
  spec.out.on_chip = out_on_chip;
  const GemmTiling tiling = choose_gemm_tiling(spec, ctx.target, ctx.builder.layout());
  note_tiling(spec, tiling, ctx);
  const uint32_t in_t = ctx.tensor(in), cache_t = ctx.tensor(cache), out_t = ctx.tensor(out);
  // Elements of one sequence in the activation operand and in the output;
  // decoding, one GEMM takes every sequence (its problems).
  const uint64_t in_per_seq = num_elements(in) / batch;
  const uint64_t out_per_seq = num_elements(out) / batch;
  for (uint64_t b = 0; b < (tokens == 1 ? 1 : batch); ++b) {
    spec.a = {in_t, in.address() + dtype_bytes(in.dtype(), b * in_per_seq), in.dtype(),
              std::nullopt};
    spec.b = {cache_t, cache.address() + dtype_bytes(cache.dtype(), b * kv_heads * len * d),
              cache.dtype(), std::nullopt};
    spec.out = {out_t, out.address() + dtype_bytes(out.dtype(), b * out_per_seq), out.dtype(),
                std::nullopt};
    if (in_on_chip) spec.a.on_chip = in_on_chip->from(b * in_per_seq);
    if (out_on_chip) spec.out.on_chip = out_on_chip->from(b * out_per_seq);
    lower_gemm(spec, tiling, ctx);
  }
}

}  // namespace

// The activations (input 0) and the output may stay on chip; the cache
// streams from memory.
NPUSIM_REGISTER_LOWERING_ON_CHIP(
    ATTENTION_SCORE, [](const Node& n, LoweringContext& c) { lower_attention(n, c, true); },
    (OnChipOperands{MATRIX, 1, true}));
NPUSIM_REGISTER_LOWERING_ON_CHIP(
    ATTENTION_CONTEXT, [](const Node& n, LoweringContext& c) { lower_attention(n, c, false); },
    (OnChipOperands{MATRIX, 1, true}));

}  // namespace npusim::compiler

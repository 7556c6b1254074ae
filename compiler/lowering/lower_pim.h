// An offloaded MATMUL or decode attention GEMV (attrs pim = 1,
// compiler/passes/pim_offload.h) lowered to PIM GEMVs (isa.proto PimOp) on
// the DMA queue.
#pragma once

#include <algorithm>
#include <cstdint>

#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

// How the lowering groups a node's GEMVs into requests (a load of inputs into
// one scratchpad slot of `slot_bytes`, the GEMVs, a store of the results from
// another), which the offload's estimate follows (compiler/passes/
// pim_offload.h). 0: one does not fit.
//   MATMUL: input vectors of K (results of M) per request;
//   attention: KV heads per request, each `group` vectors.
[[nodiscard]] inline uint64_t pim_vectors_per_request(uint64_t slot_bytes, uint64_t m, uint64_t k) {
  return slot_bytes / (2 * std::max(m, k));
}
[[nodiscard]] inline uint64_t pim_heads_per_request(uint64_t slot_bytes, uint64_t group, uint64_t m,
                                                    uint64_t k, uint64_t kv_heads) {
  return std::min(kv_heads, slot_bytes / (group * std::max(m, k) * 2));
}

// out[.., rows, N] = in[.., rows, K] x weight[K, N] with the weight in a
// PIM region at its address: the rows go in groups of as many as a
// scratchpad slot holds inputs and results for; per group, a load of the
// inputs, one GEMV, a store of the results (the activations around it go
// through memory, never forwarded on chip).
void lower_pim_matmul(const Node& node, LoweringContext& ctx);

// Decode ATTENTION_SCORE (`score`) or ATTENTION_CONTEXT with its cache in a
// PIM region of one block per sequence and KV head (Tensor.pim): per
// sequence, the KV heads in groups of as many as a slot holds the inputs
// and results of; per group, a load of the query rows (or probabilities), one
// GEMV per KV head over its `group` query heads, a store of the scores (or
// context rows).
void lower_pim_attention(const Node& node, LoweringContext& ctx, bool score);

}  // namespace npusim::compiler

// Attention fusion: ATTENTION_SCORE -> SOFTMAX_OP -> ATTENTION_CONTEXT
// becomes one ATTENTION node (flash attention), so the scores and
// probabilities, S^2 per head in prefill, are never written to memory.
#pragma once

#include "compiler/graph.pb.h"

namespace npusim::compiler {

struct FuseAttentionOptions {
  // Fuse only steps with more than one new token per sequence (prefill).
  // Decode's scores are one row per head: they already stay on chip.
  bool prefill_only = true;
};

// Fuses every chain whose scores and probabilities have no other reader;
// drops those tensors. Returns the number of chains fused.
int fuse_attention(Graph& graph, const FuseAttentionOptions& options = {});

}  // namespace npusim::compiler

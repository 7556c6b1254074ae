// What the graph builders need to know about a decoder-only transformer,
// whatever it was described in (a named preset, layer dimensions, a Hugging
// Face config.json).
#pragma once

#include <cstdint>
#include <string>

#include "arch/isa.pb.h"

namespace npusim::compiler {

enum class NormKind { Rms, Layer };            // LayerNorm has a bias
enum class MlpKind { GatedSilu, Gelu, Relu };  // SwiGLU, or up -> activation -> down

struct ModelSpec {
  std::string name;
  std::string family;  // "llama", "mistral", "mixtral", "qwen2", "gpt2", "opt"
  uint64_t hidden = 0;
  uint64_t layers = 1;
  uint64_t heads = 0;
  uint64_t kv_heads = 0;
  uint64_t head_dim = 0;
  uint64_t intermediate = 0;
  uint64_t vocab = 0;            // 0: no embedding or LM head (a bare layer)
  uint64_t max_positions = 0;    // learned position embeddings (GPT-2, OPT)
  uint64_t position_offset = 0;  // rows before position 0 in that table (OPT: 2)
  NormKind norm = NormKind::Rms;
  double norm_eps = 1e-5;     // added to the norms' variance
  double rope_theta = 10000;  // RoPE's base
  MlpKind mlp = MlpKind::GatedSilu;
  bool attention_bias = false;  // biases on Q, K and V
  bool output_bias = false;     // bias on the attention output projection
  bool mlp_bias = false;
  bool learned_positions = false;  // absolute position embeddings instead of RoPE
  bool tied_embeddings = false;    // the LM head reuses the token embedding
  uint32_t experts = 0;            // MoE: experts per layer (0: dense MLP)
  uint32_t top_k = 0;              // MoE: experts each token uses
};

// Shape of one step: B sequences each adding `tokens` new tokens (1: decode;
// S: prefill of an S-token prompt) and attending to L positions (the new
// tokens included), and the precision of each tensor class.
struct DecodeShape {
  uint64_t batch = 1;
  uint64_t tokens = 1;
  uint64_t kv_len = 1;
  DType weight_dtype = FP16;
  DType activation_dtype = FP16;
  DType kv_dtype = FP16;
  uint64_t seed = 0;  // token ids and MoE routing are drawn from it

  // "decode b1 L2048" or "prefill b1 S2048", for graph names and reports.
  [[nodiscard]] std::string label() const {
    return tokens == 1 ? "decode b" + std::to_string(batch) + " L" + std::to_string(kv_len)
                       : "prefill b" + std::to_string(batch) + " S" + std::to_string(tokens);
  }
};

}  // namespace npusim::compiler

// Llama (1/2/3), Mistral, Mixtral and Qwen2: RMSNorm, RoPE, SwiGLU MLP,
// grouped-query attention; Mixtral replaces the MLP by top-k experts; Qwen2
// has biases on Q, K and V.
#include "common/error.h"
#include "compiler/frontends/hf_config.h"

namespace npusim::compiler {
namespace {

ModelSpec llama_like(const ConfigReader& r) {
  ModelSpec s;
  s.hidden = r.count("hidden_size", kMaxHidden);
  s.layers = r.count("num_hidden_layers", kMaxLayers);
  s.heads = r.count("num_attention_heads", kMaxHeads);
  s.kv_heads = r.count_or("num_key_value_heads", s.heads, s.heads);
  s.head_dim = r.count_or("head_dim", 0, kMaxHeadDim);
  s.intermediate = r.count("intermediate_size", kMaxIntermediate);
  s.vocab = r.count("vocab_size", kMaxVocab);
  s.tied_embeddings = r.flag_or("tie_word_embeddings", false);
  s.attention_bias = r.flag_or("attention_bias", false);
  s.mlp_bias = r.flag_or("mlp_bias", false);
  const std::string act = r.text_or("hidden_act", "silu");
  require(act == "silu", r.where(), "hidden_act",
          "'" + act + "': this family's gated MLP is lowered with SiLU only");
  s.norm = NormKind::Rms;
  s.rope_theta = r.real_or("rope_theta", 10000, 1, 1e9);
  s.norm_eps = r.real_or("rms_norm_eps", 1e-6, 0, 1);  // transformers' LlamaConfig default
  s.mlp = MlpKind::GatedSilu;
  return s;
}

ModelSpec mixtral(const ConfigReader& r) {
  ModelSpec s = llama_like(r);
  s.experts = static_cast<uint32_t>(r.count("num_local_experts", kMaxExperts));
  // At most num_local_experts: each token takes that many distinct experts.
  s.top_k = static_cast<uint32_t>(r.count("num_experts_per_tok", s.experts));
  return s;
}

ModelSpec qwen2(const ConfigReader& r) {
  ModelSpec s = llama_like(r);
  s.attention_bias = true;  // Qwen2 always has Q, K, V biases
  return s;
}

}  // namespace

NPUSIM_REGISTER_FAMILY(llama, llama_like);
NPUSIM_REGISTER_FAMILY(mistral, llama_like);
NPUSIM_REGISTER_FAMILY(mixtral, mixtral);
NPUSIM_REGISTER_FAMILY(qwen2, qwen2);

}  // namespace npusim::compiler

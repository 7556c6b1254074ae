// OPT: pre-LayerNorm decoder, learned position embeddings, ReLU MLP of
// ffn_dim, biases (enable_bias), tied LM head.
#include "common/error.h"
#include "compiler/frontends/hf_config.h"

namespace npusim::compiler {
namespace {

ModelSpec opt(const ConfigReader& r) {
  ModelSpec s;
  s.hidden = r.count("hidden_size", kMaxHidden);
  s.layers = r.count("num_hidden_layers", kMaxLayers);
  s.heads = r.count("num_attention_heads", kMaxHeads);
  s.kv_heads = s.heads;
  s.intermediate = r.count("ffn_dim", kMaxIntermediate);
  s.vocab = r.count("vocab_size", kMaxVocab);
  s.max_positions = r.count("max_position_embeddings", kMaxPositions);
  require(r.count_or("word_embed_proj_dim", s.hidden, kMaxHidden) == s.hidden, r.where(),
          "word_embed_proj_dim", "an embedding projection (OPT-350m) is not modelled");
  require(r.flag_or("do_layer_norm_before", true), r.where(), "do_layer_norm_before",
          "post-LayerNorm OPT (350m) is not modelled");
  const std::string act = r.text_or("activation_function", "relu");
  require(act == "relu", r.where(), "activation_function", "'" + act + "': OPT uses ReLU");
  s.norm = NormKind::Layer;
  s.mlp = MlpKind::Relu;
  const bool bias = r.flag_or("enable_bias", true);
  s.attention_bias = s.output_bias = s.mlp_bias = bias;
  s.learned_positions = true;
  s.position_offset = 2;  // OPT's learned positions start at row 2
  s.tied_embeddings = r.flag_or("tie_word_embeddings", true);
  return s;
}

}  // namespace

NPUSIM_REGISTER_FAMILY(opt, opt);

}  // namespace npusim::compiler

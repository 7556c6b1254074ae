// GPT-2: LayerNorm, learned position embeddings, GELU MLP of 4 x hidden
// unless n_inner says otherwise, biases everywhere, tied LM head.
#include "common/error.h"
#include "compiler/frontends/hf_config.h"

namespace npusim::compiler {
namespace {

ModelSpec gpt2(const ConfigReader& r) {
  ModelSpec s;
  s.hidden = r.count("n_embd", kMaxHidden);
  s.layers = r.count("n_layer", kMaxLayers);
  s.heads = r.count("n_head", kMaxHeads);
  s.kv_heads = s.heads;
  s.intermediate = r.count_or("n_inner", 4 * s.hidden, kMaxIntermediate);
  s.vocab = r.count("vocab_size", kMaxVocab);
  s.max_positions = r.count("n_positions", kMaxPositions);
  const std::string act = r.text_or("activation_function", "gelu_new");
  require(act.rfind("gelu", 0) == 0, r.where(), "activation_function",
          "'" + act + "': GPT-2 is lowered with GELU");
  s.norm = NormKind::Layer;
  s.norm_eps = r.real_or("layer_norm_epsilon", 1e-5, 0, 1);
  s.mlp = MlpKind::Gelu;
  s.attention_bias = s.output_bias = s.mlp_bias = true;
  s.learned_positions = true;
  s.tied_embeddings = r.flag_or("tie_word_embeddings", true);
  return s;
}

}  // namespace

NPUSIM_REGISTER_FAMILY(gpt2, gpt2);

}  // namespace npusim::compiler

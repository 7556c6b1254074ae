#include "compiler/frontends/model_graph.h"

#include <fmt/format.h>

#include "common/error.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/graph_check.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {

Graph build_model(const ModelSpec& m, const DecodeShape& s, uint64_t layers) {
  require(m.vocab > 0, m.name, "vocab_size", "a whole model needs a vocabulary");
  require(layers <= m.layers, "--layers", std::to_string(layers),
          fmt::format("the model {} has {} layers", m.name, m.layers));
  const uint64_t n = layers == 0 ? m.layers : layers;
  check_buildable(m, s, n, layers != 0);
  if (m.learned_positions) {
    require(s.kv_len <= m.max_positions, m.name, "max_position_embeddings",
            fmt::format("--kv-len {} exceeds the model's {} positions", s.kv_len, m.max_positions));
  }
  const auto B = static_cast<int64_t>(s.batch * s.tokens);  // token rows
  const auto H = static_cast<int64_t>(m.hidden);
  const auto V = static_cast<int64_t>(m.vocab);
  const DType at = s.activation_dtype;
  // Weight-only quantisation (GPTQ, AWQ) leaves the embeddings and the LM
  // head in 16 bits: only the decoder layers' projections are quantised.
  const DType et = quant_group(s.weight_dtype, 1) != 0 ? at : s.weight_dtype;
  Graph g;
  g.set_name(fmt::format("{} ({} of {} layers) {}", m.name, n, m.layers, s.label()));

  const std::string table = "embed_tokens.weight";
  add_tensor(g, table, {V, H}, et, WEIGHT, true);
  add_tensor(g, "embeddings", {B, H}, at, ACTIVATION, false);
  set_attr(add_node(g, "embed_tokens", EMBEDDING, {table}, {"embeddings"}), "seed",
           static_cast<int64_t>(s.seed));
  std::string x = "embeddings";
  if (m.learned_positions) {
    add_tensor(g, "embed_positions.weight",
               {static_cast<int64_t>(m.max_positions + m.position_offset), H}, et, WEIGHT, true);
    add_tensor(g, "positions", {B, H}, at, ACTIVATION, false);
    Node& pos =
        add_node(g, "embed_positions", EMBEDDING, {"embed_positions.weight"}, {"positions"});
    // Token t of each sequence is at position L - T + t.
    set_attr(pos, "row", static_cast<int64_t>(m.position_offset + s.kv_len - s.tokens));
    set_attr(pos, "tokens", static_cast<int64_t>(s.tokens));
    add_tensor(g, "input", {B, H}, at, ACTIVATION, false);
    add_node(g, "add_positions", ADD_OP, {x, "positions"}, {"input"});
    x = "input";
  }
  for (uint64_t l = 0; l < n; ++l) {
    x = add_decoder_layer(g, m, s, fmt::format("layers.{}.", l), x, l);
  }
  const auto seqs = static_cast<int64_t>(s.batch);
  if (s.tokens > 1) {
    // Only each sequence's last token goes on to the LM head.
    std::string rows;
    for (uint64_t b = 0; b < s.batch; ++b) {
      rows += fmt::format("{}{}", b == 0 ? "" : ",", (b + 1) * s.tokens - 1);
    }
    add_tensor(g, "last_tokens", {seqs, H}, at, ACTIVATION, false);
    set_attr(add_node(g, "last_tokens", GATHER_ROWS, {x}, {"last_tokens"}), "rows", rows);
    x = "last_tokens";
  }
  add_tensor(g, "final_norm.weight", {H}, at, WEIGHT, true);
  add_tensor(g, "final_norm", {seqs, H}, at, ACTIVATION, false);
  Node* final_norm = nullptr;
  if (m.norm == NormKind::Rms) {
    final_norm = &add_node(g, "final_norm", RMS_NORM, {x, "final_norm.weight"}, {"final_norm"});
  } else {
    add_tensor(g, "final_norm.bias", {H}, at, WEIGHT, true);
    final_norm = &add_node(g, "final_norm", LAYER_NORM, {x, "final_norm.weight", "final_norm.bias"},
                           {"final_norm"});
  }
  set_attr_real(*final_norm, "eps", m.norm_eps);
  add_tensor(g, "logits", {seqs, V}, at, ACTIVATION, false);
  if (m.tied_embeddings) {
    // The LM head reads the embedding table [vocab, hidden] as its weight.
    set_attr(add_node(g, "lm_head", MATMUL, {"final_norm", table}, {"logits"}), "weight_transposed",
             1);
  } else {
    add_tensor(g, "lm_head.weight", {H, V}, et, WEIGHT, true);
    add_node(g, "lm_head", MATMUL, {"final_norm", "lm_head.weight"}, {"logits"});
  }
  check_graph(g, m.name);
  return g;
}

}  // namespace npusim::compiler

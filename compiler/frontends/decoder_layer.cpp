#include "compiler/frontends/decoder_layer.h"

#include <fmt/format.h>

#include <boost/algorithm/string.hpp>
#include <charconv>
#include <cmath>
#include <optional>
#include <tuple>

#include "common/checked.h"
#include "common/error.h"
#include "common/integer.h"
#include "compiler/frontends/hf_config.h"
#include "compiler/frontends/moe_routing.h"
#include "compiler/graph_check.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {

namespace {
ModelSpec llama_layer(const char* name, uint64_t hidden, uint64_t heads, uint64_t kv_heads,
                      uint64_t intermediate) {
  ModelSpec s;
  s.name = name;
  s.family = "llama";
  s.hidden = hidden;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.head_dim = hidden / heads;
  s.intermediate = intermediate;
  return s;
}
}  // namespace

const std::vector<ModelSpec>& layer_presets() {
  // Public model configurations (../shared/reference/hardware.md).
  static const std::vector<ModelSpec> presets = {
      llama_layer("llama2-7b", 4096, 32, 32, 11008),
      llama_layer("llama2-13b", 5120, 40, 40, 13824),
      llama_layer("llama2-70b", 8192, 64, 8, 28672),
      llama_layer("llama3-8b", 4096, 32, 8, 14336),
      llama_layer("mistral-7b", 4096, 32, 8, 14336),
      llama_layer("tiny", 256, 4, 2, 688),  // for examples and tests that run in milliseconds
  };
  return presets;
}

namespace {
uint64_t parse_uint(const std::string& value, const std::string& where, const std::string& key) {
  uint64_t out = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, out);
  require(ec == std::errc() && ptr == end, where, key,
          fmt::format("'{}' is not a non-negative integer", value));
  return out;
}
}  // namespace

ModelSpec parse_layer(const std::string& text, const std::string& where) {
  for (const auto& p : layer_presets()) {
    if (p.name == text) return p;
  }
  if (text.find('=') == std::string::npos) {
    std::vector<std::string> names;
    for (const auto& p : layer_presets()) names.push_back(p.name);
    throw UserError(
        fmt::format("{}: unknown layer '{}'; use one of {} or hidden=..,heads=..,"
                    "kv_heads=..,intermediate=..[,head_dim=..]",
                    where, text, fmt::join(names, ", ")));
  }
  ModelSpec d;
  d.name = "custom";
  d.family = "llama";
  std::vector<std::string> parts;
  boost::split(parts, text, boost::is_any_of(","));
  for (const auto& part : parts) {
    const auto eq = part.find('=');
    require(eq != std::string::npos, where, part, "expected key=value");
    const std::string key = part.substr(0, eq);
    const uint64_t v = parse_uint(part.substr(eq + 1), where, key);
    if (key == "hidden") {
      d.hidden = v;
    } else if (key == "heads") {
      d.heads = v;
    } else if (key == "kv_heads") {
      d.kv_heads = v;
    } else if (key == "head_dim") {
      d.head_dim = v;
    } else if (key == "intermediate") {
      d.intermediate = v;
    } else {
      throw UserError(
          fmt::format("{}: {}: unknown layer dimension (hidden, heads, kv_heads, "
                      "head_dim, intermediate)",
                      where, key));
    }
  }
  if (d.kv_heads == 0) d.kv_heads = d.heads;
  auto range = [&](const char* key, uint64_t v, uint64_t max) {
    require(v >= 1 && v <= max, where, key,
            fmt::format("must be between 1 and {}, not {}", max, v));
  };
  range("hidden", d.hidden, kMaxHidden);
  range("heads", d.heads, kMaxHeads);
  range("kv_heads", d.kv_heads, d.heads);
  range("intermediate", d.intermediate, kMaxIntermediate);
  require(d.heads % d.kv_heads == 0, where, "kv_heads", "must divide heads");
  if (d.head_dim == 0) {
    require(d.hidden % d.heads == 0, where, "heads", "must divide hidden (or give head_dim)");
    d.head_dim = d.hidden / d.heads;
  }
  range("head_dim", d.head_dim, kMaxHeadDim);
  require(d.heads * d.head_dim <= kMaxHidden, where, "heads",
          fmt::format("{} heads of {} make {} columns, more than {}", d.heads, d.head_dim,
                      d.heads * d.head_dim, kMaxHidden));
  return d;
}

namespace {

std::string add_layer_nodes(Graph& g, const ModelSpec& d, const DecodeShape& s,
                            const std::string& p, const std::string& input, uint64_t layer) {
  const auto B = static_cast<int64_t>(s.batch * s.tokens);  // activation rows
  const auto seqs = static_cast<int64_t>(s.batch);
  const auto T = static_cast<int64_t>(s.tokens);
  const auto H = static_cast<int64_t>(d.hidden);
  const auto nh = static_cast<int64_t>(d.heads);
  const auto nkv = static_cast<int64_t>(d.kv_heads);
  const auto hd = static_cast<int64_t>(d.head_dim);
  const auto I = static_cast<int64_t>(d.intermediate);
  const auto L = static_cast<int64_t>(s.kv_len);
  const DType wt = s.weight_dtype;
  const DType at = s.activation_dtype;
  auto act = [&](const std::string& n, std::vector<int64_t> shape) {
    add_tensor(g, p + n, std::move(shape), at, ACTIVATION, false);
    return p + n;
  };
  // Norm gains and biases stay in the activation precision; matrices take
  // the weight precision.
  auto param = [&](const std::string& n, std::vector<int64_t> shape, DType dt) {
    add_tensor(g, p + n, std::move(shape), dt, WEIGHT, true);
    return p + n;
  };
  auto node = [&](const std::string& n, OpType op, std::vector<std::string> in,
                  std::vector<std::string> out) -> Node& {
    return add_node(g, p + n, op, std::move(in), std::move(out));
  };
  auto norm = [&](const std::string& n, const std::string& x) {
    const auto out = act(n, {B, H});
    Node& nn = d.norm == NormKind::Rms
                   ? node(n, RMS_NORM, {x, param(n + ".weight", {H}, at)}, {out})
                   : node(n, LAYER_NORM,
                          {x, param(n + ".weight", {H}, at), param(n + ".bias", {H}, at)}, {out});
    set_attr_real(nn, "eps", d.norm_eps);
    return out;
  };
  // A projection of `rows` rows with an optional bias.
  auto linear_rows = [&](const std::string& n, const std::string& x, int64_t rows, int64_t in,
                         int64_t out_dim, bool bias) {
    const auto y = act(n, {rows, out_dim});
    Node& mm =
        node(n, MATMUL, {x, param(n + ".weight", {in, out_dim}, wt)}, {bias ? y + ".raw" : y});
    if (const uint64_t group = quant_group(wt, static_cast<uint64_t>(in)); group != 0) {
      // Quantised: a scale per output column and group of input rows, in
      // the activation precision.
      const auto groups = ceil_div(static_cast<uint64_t>(in), group);
      mm.add_inputs(param(n + ".scales", {static_cast<int64_t>(groups), out_dim}, at));
      set_attr(mm, "scale_group", static_cast<int64_t>(group));
    }
    if (bias) {
      add_tensor(g, y + ".raw", {rows, out_dim}, at, ACTIVATION, false);
      node(n + ".bias_add", BIAS_ADD, {y + ".raw", param(n + ".bias", {out_dim}, at)}, {y});
    }
    return y;
  };
  auto linear = [&](const std::string& n, const std::string& x, int64_t in, int64_t out_dim,
                    bool bias) { return linear_rows(n, x, B, in, out_dim, bias); };

  add_tensor(g, p + "k_cache", {seqs, nkv, L, hd}, s.kv_dtype, KV_CACHE, false);
  add_tensor(g, p + "v_cache", {seqs, nkv, L, hd}, s.kv_dtype, KV_CACHE, false);
  const auto kc = p + "k_cache";
  const auto vc = p + "v_cache";

  const auto n1 = norm("attn_norm", input);
  const auto q = linear("q_proj", n1, H, nh * hd, d.attention_bias);
  const auto k = linear("k_proj", n1, H, nkv * hd, d.attention_bias);
  const auto v = linear("v_proj", n1, H, nkv * hd, d.attention_bias);
  std::string qr = q, kr = k;
  if (!d.learned_positions) {
    qr = act("q_rot", {B, nh * hd});
    kr = act("k_rot", {B, nkv * hd});
    for (auto [name, in, out] : {std::tuple{"q_rope", q, qr}, {"k_rope", k, kr}}) {
      Node& n = node(name, ROTARY, {in}, {out});
      set_attr(n, "head_dim", hd);
      set_attr_real(n, "theta", d.rope_theta);
      set_attr(n, "position", L - T);  // the new tokens are at L - T .. L - 1
      set_attr(n, "tokens", T);
    }
  }
  // The new tokens' keys and values go to positions L - T .. L - 1.
  for (const auto& [name, in, cache] : {std::tuple{"k_append", kr, kc}, {"v_append", v, vc}}) {
    Node& n = node(name, KV_APPEND, {in, cache}, {cache});
    set_attr(n, "position", L - T);
    set_attr(n, "tokens", T);
  }
  // Prefill attention is computed for every query row against all L keys
  // (the causal mask's zeros are not skipped).
  const auto sc = act("scores", {seqs, nh, T, L});
  Node& score = node("attn_score", ATTENTION_SCORE, {qr, kc}, {sc});
  set_attr(score, "heads", nh);
  set_attr(score, "tokens", T);
  const auto pr = act("probs", {seqs, nh, T, L});
  // Softmax of the scores over 1/sqrt(d), query t of the T new tokens
  // seeing keys up to L - T + t.
  Node& sm = node("softmax", SOFTMAX_OP, {sc}, {pr});
  set_attr_real(sm, "scale", 1.0 / std::sqrt(static_cast<double>(hd)));
  set_attr(sm, "causal", 1);
  set_attr(sm, "tokens", T);
  const auto cx = act("context", {B, nh * hd});
  Node& context = node("attn_context", ATTENTION_CONTEXT, {pr, vc}, {cx});
  set_attr(context, "heads", nh);
  set_attr(context, "tokens", T);
  const auto o = linear("o_proj", cx, nh * hd, H, d.output_bias);
  const auto h = act("residual1", {B, H});
  node("residual1", ADD_OP, {input, o}, {h});

  const auto n2 = norm("mlp_norm", h);
  std::string dn;
  if (d.experts > 0) {
    // Router, then each chosen expert on the tokens routed to it; the
    // experts no token chose are placed in memory but never read.
    const auto E = static_cast<int64_t>(d.experts);
    const auto logits = linear("router", n2, H, E, false);
    const auto probs = act("router_probs", {B, E});
    node("router_softmax", SOFTMAX_OP, {logits}, {probs});
    // Each token's experts, fixed at compile time (--seed), weighed by
    // their router probabilities renormalised over the chosen ones.
    std::vector<std::vector<int64_t>> tokens(d.experts), slots(d.experts);
    const auto routing = moe_routing(s.seed, layer, s.batch * s.tokens, d.experts, d.top_k);
    std::vector<uint32_t> chosen;
    for (uint64_t b = 0; b < s.batch * s.tokens; ++b) {
      for (size_t j = 0; j < routing[b].size(); ++j) {
        tokens[routing[b][j]].push_back(static_cast<int64_t>(b));
        slots[routing[b][j]].push_back(static_cast<int64_t>(j));
        chosen.push_back(routing[b][j]);
      }
    }
    const auto gates = act("router_gates", {B, static_cast<int64_t>(d.top_k)});
    set_attr(node("router_gates", MOE_GATES, {probs}, {gates}), "experts",
             fmt::format("{}", fmt::join(chosen, ",")));
    std::string acc;
    for (uint32_t e = 0; e < d.experts; ++e) {
      const std::string x = fmt::format("experts.{}.", e);
      if (tokens[e].empty()) {
        for (const auto& [proj, in, out_dim] :
             {std::tuple{"gate_proj", H, I}, {"up_proj", H, I}, {"down_proj", I, H}}) {
          param(x + proj + ".weight", {in, out_dim}, wt);
          if (const uint64_t group = quant_group(wt, static_cast<uint64_t>(in)); group != 0) {
            param(x + proj + ".scales",
                  {static_cast<int64_t>(ceil_div(static_cast<uint64_t>(in), group)), out_dim}, at);
          }
        }
        continue;
      }
      const auto n = static_cast<int64_t>(tokens[e].size());
      const std::string rows = fmt::format("{}", fmt::join(tokens[e], ","));
      const auto in = act(x + "input", {n, H});
      set_attr(node(x + "dispatch", GATHER_ROWS, {n2}, {in}), "rows", rows);
      const auto gate = linear_rows(x + "gate_proj", in, n, H, I, false);
      const auto up = linear_rows(x + "up_proj", in, n, H, I, false);
      const auto a = act(x + "swiglu", {n, I});
      node(x + "swiglu", SWIGLU_OP, {gate, up}, {a});
      const auto down = linear_rows(x + "down_proj", a, n, I, H, false);
      const auto out = act(x + "combined", {B, H});
      std::vector<std::string> parts{down};
      if (!acc.empty()) parts.push_back(acc);
      parts.push_back(gates);
      Node& combine = node(x + "combine", SCATTER_ADD, parts, {out});
      set_attr(combine, "rows", rows);
      set_attr(combine, "slots", fmt::format("{}", fmt::join(slots[e], ",")));
      acc = out;
    }
    dn = acc;
  } else if (d.mlp == MlpKind::GatedSilu) {
    const auto gate = linear("gate_proj", n2, H, I, d.mlp_bias);
    const auto up = linear("up_proj", n2, H, I, d.mlp_bias);
    const auto a = act("swiglu", {B, I});
    node("swiglu", SWIGLU_OP, {gate, up}, {a});
    dn = linear("down_proj", a, I, H, d.mlp_bias);
  } else {
    const auto up = linear("up_proj", n2, H, I, d.mlp_bias);
    const auto a = act("activation", {B, I});
    node("activation", d.mlp == MlpKind::Gelu ? GELU_OP : RELU_OP, {up}, {a});
    dn = linear("down_proj", a, I, H, d.mlp_bias);
  }
  const auto y = act("out", {B, H});
  node("residual2", ADD_OP, {h, dn}, {y});
  return y;
}

}  // namespace

std::string add_decoder_layer(Graph& g, const ModelSpec& d, const DecodeShape& s,
                              const std::string& p, const std::string& input, uint64_t layer) {
  const int first = g.tensors_size();
  std::string out = add_layer_nodes(g, d, s, p, input, layer);
  // What placement rules match by: the layer, and the experts' parameters.
  const std::string experts = p + "experts.";
  for (int i = first; i < g.tensors_size(); ++i) {
    Tensor& t = *g.mutable_tensors(i);
    t.set_layer(static_cast<uint32_t>(layer));
    t.set_expert(t.is_parameter() && t.name().compare(0, experts.size(), experts) == 0);
  }
  return out;
}

void check_buildable(const ModelSpec& spec, const DecodeShape& shape, uint64_t layers,
                     bool from_flag) {
  require(shape.batch >= 1, "--batch", std::to_string(shape.batch), "must be >= 1");
  require(shape.tokens >= 1, "--prompt-len", std::to_string(shape.tokens), "must be >= 1");
  require(shape.kv_len >= shape.tokens && shape.kv_len <= kMaxKvLen,
          shape.tokens > 1 ? "--prompt-len" : "--kv-len", std::to_string(shape.kv_len),
          fmt::format("must be between {} (the new tokens) and {}", shape.tokens, kMaxKvLen));
  const std::optional<uint64_t> rows = checked_mul(shape.batch, shape.tokens);
  require(rows && *rows <= kMaxTokenRows, "--batch", std::to_string(shape.batch),
          fmt::format("{} sequences of {} new tokens are more than {} token rows", shape.batch,
                      shape.tokens, kMaxTokenRows));
  require(layers >= 1, "--layers", std::to_string(layers), "must be >= 1");
  // About 40 tensors per layer, and ten per expert (three weights, an
  // input, the projections' outputs).
  const uint64_t per_layer = 40 + 10 * uint64_t{spec.experts};
  // A model's own layers are its config's; --layers' are the flag's.
  const bool own = !from_flag && !spec.name.empty();
  require(
      layers <= kMaxGraphTensors / per_layer, own ? spec.name : "--layers",
      own ? (spec.experts > 0 ? "num_local_experts" : "num_hidden_layers") : std::to_string(layers),
      fmt::format("{} layers{} make over {} tensors; build fewer layers{}", layers,
                  spec.experts > 0 ? fmt::format(" of {} experts", spec.experts) : "",
                  kMaxGraphTensors, own ? " (--layers)" : ""));
}

Graph build_decoder_layers(const ModelSpec& spec, const DecodeShape& shape, uint32_t layers) {
  check_buildable(spec, shape, layers, true);
  Graph g;
  g.set_name(fmt::format("{} x{} {}", spec.name, layers, shape.label()));
  std::string x = "input";
  add_tensor(g, x,
             {static_cast<int64_t>(shape.batch * shape.tokens), static_cast<int64_t>(spec.hidden)},
             shape.activation_dtype, ACTIVATION, false);
  for (uint32_t l = 0; l < layers; ++l) {
    x = add_decoder_layer(g, spec, shape, fmt::format("layers.{}.", l), x, l);
  }
  check_graph(g, "--layer " + spec.name);
  return g;
}

}  // namespace npusim::compiler

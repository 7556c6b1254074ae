#include "compiler/frontends/decoder_layer.h"

#include <fmt/format.h>

#include <boost/algorithm/string.hpp>
#include <charconv>

#include "common/error.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {

const std::vector<LayerDims>& layer_presets() {
  // Public model configurations (../shared/reference/hardware.md).
  static const std::vector<LayerDims> presets = {
      {"llama2-7b", 4096, 32, 32, 128, 11008},
      {"llama2-13b", 5120, 40, 40, 128, 13824},
      {"llama2-70b", 8192, 64, 8, 128, 28672},
      {"llama3-8b", 4096, 32, 8, 128, 14336},
      {"mistral-7b", 4096, 32, 8, 128, 14336},
      {"tiny", 256, 4, 2, 64, 688},  // for examples and tests that run in milliseconds
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

LayerDims parse_layer(const std::string& text, const std::string& where) {
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
  LayerDims d;
  d.name = "custom";
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
  require(d.hidden > 0, where, "hidden", "must be > 0");
  require(d.heads > 0, where, "heads", "must be > 0");
  require(d.intermediate > 0, where, "intermediate", "must be > 0");
  require(d.heads % d.kv_heads == 0, where, "kv_heads", "must divide heads");
  if (d.head_dim == 0) {
    require(d.hidden % d.heads == 0, where, "heads", "must divide hidden (or give head_dim)");
    d.head_dim = d.hidden / d.heads;
  }
  return d;
}

std::string add_decoder_layer(Graph& g, const LayerDims& d, const DecodeShape& s,
                              const std::string& p, const std::string& input) {
  const auto B = static_cast<int64_t>(s.batch);
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
  auto weight = [&](const std::string& n, std::vector<int64_t> shape, DType dt) {
    add_tensor(g, p + n, std::move(shape), dt, WEIGHT, true);
    return p + n;
  };
  auto node = [&](const std::string& n, OpType op, std::vector<std::string> in,
                  std::vector<std::string> out) -> Node& {
    return add_node(g, p + n, op, std::move(in), std::move(out));
  };

  // Norm gains stay in the activation precision; matrices take the weight dtype.
  const auto g1 = weight("attn_norm.weight", {H}, at);
  const auto wq = weight("wq", {H, nh * hd}, wt);
  const auto wk = weight("wk", {H, nkv * hd}, wt);
  const auto wv = weight("wv", {H, nkv * hd}, wt);
  const auto wo = weight("wo", {nh * hd, H}, wt);
  const auto g2 = weight("mlp_norm.weight", {H}, at);
  const auto wg = weight("w_gate", {H, I}, wt);
  const auto wu = weight("w_up", {H, I}, wt);
  const auto wd = weight("w_down", {I, H}, wt);
  add_tensor(g, p + "k_cache", {B, nkv, L, hd}, s.kv_dtype, KV_CACHE, false);
  add_tensor(g, p + "v_cache", {B, nkv, L, hd}, s.kv_dtype, KV_CACHE, false);
  const auto kc = p + "k_cache";
  const auto vc = p + "v_cache";

  const auto n1 = act("attn_norm", {B, H});
  node("attn_norm", RMS_NORM, {input, g1}, {n1});
  const auto q = act("q", {B, nh * hd});
  const auto k = act("k", {B, nkv * hd});
  const auto v = act("v", {B, nkv * hd});
  node("q_proj", MATMUL, {n1, wq}, {q});
  node("k_proj", MATMUL, {n1, wk}, {k});
  node("v_proj", MATMUL, {n1, wv}, {v});
  const auto qr = act("q_rot", {B, nh * hd});
  const auto kr = act("k_rot", {B, nkv * hd});
  set_attr(node("q_rope", ROTARY, {q}, {qr}), "head_dim", hd);
  set_attr(node("k_rope", ROTARY, {k}, {kr}), "head_dim", hd);
  set_attr(node("k_append", KV_APPEND, {kr, kc}, {kc}), "position", L - 1);
  set_attr(node("v_append", KV_APPEND, {v, vc}, {vc}), "position", L - 1);
  const auto sc = act("scores", {B, nh, L});
  Node& score = node("attn_score", ATTENTION_SCORE, {qr, kc}, {sc});
  set_attr(score, "heads", nh);
  set_attr(score, "kv_heads", nkv);
  const auto pr = act("probs", {B, nh, L});
  node("softmax", SOFTMAX_OP, {sc}, {pr});
  const auto cx = act("context", {B, nh * hd});
  Node& ctx = node("attn_context", ATTENTION_CONTEXT, {pr, vc}, {cx});
  set_attr(ctx, "heads", nh);
  set_attr(ctx, "kv_heads", nkv);
  const auto o = act("attn_out", {B, H});
  node("o_proj", MATMUL, {cx, wo}, {o});
  const auto h = act("residual1", {B, H});
  node("residual1", ADD_OP, {input, o}, {h});
  const auto n2 = act("mlp_norm", {B, H});
  node("mlp_norm", RMS_NORM, {h, g2}, {n2});
  const auto gate = act("gate", {B, I});
  const auto up = act("up", {B, I});
  node("gate_proj", MATMUL, {n2, wg}, {gate});
  node("up_proj", MATMUL, {n2, wu}, {up});
  const auto a = act("swiglu", {B, I});
  node("swiglu", SWIGLU_OP, {gate, up}, {a});
  const auto dn = act("down", {B, H});
  node("down_proj", MATMUL, {a, wd}, {dn});
  const auto y = act("out", {B, H});
  node("residual2", ADD_OP, {h, dn}, {y});
  return y;
}

Graph build_decoder_layers(const LayerDims& dims, const DecodeShape& shape, uint32_t layers) {
  Graph g;
  g.set_name(fmt::format("{} x{} decode b{} L{}", dims.name, layers, shape.batch, shape.kv_len));
  std::string x = "input";
  add_tensor(g, x, {static_cast<int64_t>(shape.batch), static_cast<int64_t>(dims.hidden)},
             shape.activation_dtype, ACTIVATION, false);
  for (uint32_t l = 0; l < layers; ++l) {
    x = add_decoder_layer(g, dims, shape, fmt::format("layers.{}.", l), x);
  }
  return g;
}

}  // namespace npusim::compiler

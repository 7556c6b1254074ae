#include "compiler/reference/reference.h"

#include <fmt/format.h>

#include <Eigen/Core>
#include <map>
#include <string>

#include "common/elements.h"
#include "common/error.h"
#include "common/vector_math.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {
namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The graph's inputs, and what its nodes have produced so far (a tensor
// updated in place, a KV cache, is found there first).
struct Values {
  const TensorValues& inputs;
  TensorValues produced;
  std::map<std::string, std::string> alias_of;  // a view -> the tensor it views
};

const std::vector<float>& input(const Values& values, const Node& node, int i) {
  std::string name = node.inputs(i);
  for (auto a = values.alias_of.find(name); a != values.alias_of.end();
       a = values.alias_of.find(name)) {
    name = a->second;  // a view reads its base's values (the same bytes)
  }
  auto it = values.produced.find(name);
  if (it != values.produced.end()) return it->second;
  it = values.inputs.find(name);
  if (it == values.inputs.end()) {
    throw UserError(fmt::format("reference: node '{}': no value for its input '{}'", node.name(),
                                node.inputs(i)));
  }
  return it->second;
}

// MATMUL: out[.., M, N] = in[.., M, K] x weight[K, N] (or weight[N, K]
// transposed: a head tied to the embedding), the leading dimensions
// flattened into M.
std::vector<float> matmul(const Node& node, const TensorIndex& tensors, const Values& values) {
  const Tensor& w = tensors.at(node.inputs(1), node.name());
  const bool transposed = attr_int(node, "weight_transposed", 0) != 0;
  const auto k = static_cast<Eigen::Index>(w.shape(transposed ? 1 : 0));
  const auto n = static_cast<Eigen::Index>(w.shape(transposed ? 0 : 1));
  const std::vector<float>& x = input(values, node, 0);
  const auto m = static_cast<Eigen::Index>(x.size()) / k;
  std::vector<float> out(static_cast<size_t>(m * n));
  const Eigen::Map<const Mat> a(x.data(), m, k);
  const std::vector<float>& wv = input(values, node, 1);
  auto result = Eigen::Map<Mat>(out.data(), m, n);
  if (node.inputs_size() == 3) {  // a quantised weight: (k, n) times scales[k / g, n]
    Mat weight = transposed ? Mat(Eigen::Map<const Mat>(wv.data(), n, k).transpose())
                            : Mat(Eigen::Map<const Mat>(wv.data(), k, n));
    const std::vector<float>& scales = input(values, node, 2);
    const auto g = static_cast<Eigen::Index>(attr_int(node, "scale_group", k));
    for (Eigen::Index r = 0; r < k; ++r) {
      for (Eigen::Index c = 0; c < n; ++c) {
        weight(r, c) *= scales[static_cast<size_t>(r / g * n + c)];
      }
    }
    result = a * weight;
  } else if (transposed) {
    result = a * Eigen::Map<const Mat>(wv.data(), n, k).transpose();
  } else {
    result = a * Eigen::Map<const Mat>(wv.data(), k, n);
  }
  return out;
}

// EMBEDDING: out[i, :] = table[row(i), :] (compiler::embedding_rows).
std::vector<float> embedding(const Node& node, const TensorIndex& tensors, const Values& values) {
  const Tensor& table = tensors.at(node.inputs(0), node.name());
  const auto width = static_cast<uint64_t>(table.shape(1));
  const uint64_t batch = num_elements(tensors.at(node.outputs(0), node.name())) / width;
  const std::vector<float>& t = input(values, node, 0);
  std::vector<float> out;
  out.reserve(batch * width);
  for (uint64_t r : embedding_rows(node, static_cast<uint64_t>(table.shape(0)), batch)) {
    out.insert(out.end(), t.begin() + static_cast<std::ptrdiff_t>(r * width),
               t.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
  }
  return out;
}

// Softmax of rows of `row` scores times `scale`; with `causal`, row r is
// query r % tokens of `tokens` new tokens and sees the keys up to its own.
std::vector<float> softmax_rows(const std::vector<float>& x, uint64_t row, float scale, bool causal,
                                uint64_t tokens) {
  std::vector<float> out(x.size());
  for (uint64_t r = 0; r < x.size() / row; ++r) {
    const uint64_t valid = causal ? row - tokens + 1 + r % tokens : row;
    softmax(x.data() + r * row, row, scale, valid, out.data() + r * row);
  }
  return out;
}

// Vector ops: over rows of the input's last dimension.
std::vector<float> vector_op(const Node& node, const TensorIndex& tensors, const Values& values) {
  const std::vector<float>& x = input(values, node, 0);
  const uint64_t row = last_dim(tensors.at(node.inputs(0), node.name()));
  const uint64_t rows = x.size() / row;
  std::vector<float> out(x.size());
  auto rowwise = [&](auto f) {
    for (uint64_t r = 0; r < rows; ++r) f(x.data() + r * row, out.data() + r * row);
  };
  // A second input of x's size, or one row added to every row.
  auto binary_with = [&](VectorKind kind, const std::vector<float>& y) {
    for (size_t i = 0; i < x.size(); ++i)
      out[i] = binary(kind, x[i], y[y.size() == x.size() ? i : i % row]);
  };
  VectorKind kind = VECTOR_KIND_UNSPECIFIED;
  switch (node.op()) {
    case RMS_NORM: {
      const float eps = static_cast<float>(norm_eps(node));
      const std::vector<float>& gain = input(values, node, 1);
      rowwise([&](const float* p, float* o) { rms_norm(p, gain.data(), row, eps, o); });
      return out;
    }
    case LAYER_NORM: {
      const float eps = static_cast<float>(norm_eps(node));
      const std::vector<float>&gain = input(values, node, 1), &bias = input(values, node, 2);
      rowwise(
          [&](const float* p, float* o) { layer_norm(p, gain.data(), bias.data(), row, eps, o); });
      return out;
    }
    case ROTARY: {
      const auto hd = static_cast<uint64_t>(attr_int(node, "head_dim", static_cast<int64_t>(row)));
      const auto theta = static_cast<float>(attr_real(node, "theta", 10000));
      const auto position = static_cast<uint64_t>(attr_int(node, "position", 0));
      const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
      for (uint64_t h = 0; h < x.size() / hd; ++h) {  // each head of each token row
        const uint64_t token = h / (row / hd);
        rope(x.data() + h * hd, hd, theta, position + token % tokens, out.data() + h * hd);
      }
      return out;
    }
    case SOFTMAX_OP:
      return softmax_rows(x, row, static_cast<float>(attr_real(node, "scale", 1)),
                          attr_int(node, "causal", 0) != 0,
                          static_cast<uint64_t>(attr_int(node, "tokens", 1)));
    case REDUCE_MEAN_OP:
      out.resize(rows);
      for (uint64_t r = 0; r < rows; ++r) out[r] = reduce(REDUCE_MEAN, x.data() + r * row, row);
      return out;
    case ADD_OP:
    case BIAS_ADD:
      binary_with(ADD, input(values, node, 1));
      return out;
    case MUL_OP:
      binary_with(MUL, input(values, node, 1));
      return out;
    case SWIGLU_OP:
      binary_with(SWIGLU, input(values, node, 1));
      return out;
    case SILU_OP:
      kind = SILU;
      break;
    case GELU_OP:
      kind = node.attrs().count("approximate") != 0 && node.attrs().at("approximate").s() == "tanh"
                 ? GELU_TANH
                 : GELU;
      break;
    case RELU_OP:
      kind = RELU;
      break;
    case ELEMENTWISE: {
      auto it = node.attrs().find("kind");
      if (it != node.attrs().end()) VectorKind_Parse(it->second.s(), &kind);
      if (node.inputs_size() == 2 && is_binary(kind)) {
        binary_with(kind, input(values, node, 1));
        return out;
      }
      if (kind == COPY && attr_int(node, "transpose_rows", 0) != 0) {
        // Each group of R rows of C blocks of `row` is written [C][R][row].
        const auto r_count = static_cast<uint64_t>(attr_int(node, "transpose_rows", 0));
        const auto group = static_cast<uint64_t>(attr_int(node, "transpose_group", 0));
        const uint64_t blocks = group / (r_count * row);
        for (uint64_t g0 = 0; g0 < x.size(); g0 += group) {
          for (uint64_t r = 0; r < r_count; ++r) {
            for (uint64_t c = 0; c < blocks; ++c) {
              std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(g0 + (r * blocks + c) * row), row,
                          out.begin() + static_cast<std::ptrdiff_t>(g0 + (c * r_count + r) * row));
            }
          }
        }
        return out;
      }
      if (node.inputs_size() == 1 && is_unary(kind)) break;
      if (node.inputs_size() == 1 && is_binary(kind) && node.attrs().count("scalar") != 0) {
        const auto s = static_cast<float>(attr_real(node, "scalar", 0));
        const bool first = attr_int(node, "scalar_first", 0) != 0;
        for (size_t i = 0; i < x.size(); ++i) {
          out[i] = first ? binary(kind, s, x[i]) : binary(kind, x[i], s);
        }
        return out;
      }
      throw UserError(fmt::format(
          "reference: node '{}': ELEMENTWISE {} with {} input(s) (a scalar constant's value is "
          "not in the graph)",
          node.name(), VectorKind_Name(kind), node.inputs_size()));
    }
    default:
      throw UserError(fmt::format("reference: node '{}': the interpreter does not run {} yet",
                                  node.name(), OpType_Name(node.op())));
  }
  for (size_t i = 0; i < x.size(); ++i) out[i] = unary(kind, x[i]);
  return out;
}

// Attention over a KV cache [B, kv_heads, L, d], `group` query heads per
// KV head. ATTENTION_SCORE: scores[b, h, t, j] = q[b * T + t, h * d :] .
// K[b, h / group, j, :]; ATTENTION_CONTEXT: out[b * T + t, h * d :] =
// sum_j p[b, h, t, j] V[b, h / group, j, :].
struct Heads {
  CacheShape cache;
  AttentionShape attention;
};

Heads heads_of(const Node& node, const TensorIndex& tensors) {
  const CacheShape c = cache_shape(tensors.at(node.inputs(1), node.name()), node.name());
  return {c, attention_shape(node, c)};
}

std::vector<float> attention(const Heads& a, const std::vector<float>& x,
                             const std::vector<float>& cache, bool score) {
  const auto [batch, kv_heads, len, d] = a.cache;
  const auto [heads, group, tokens] = a.attention;
  std::vector<float> out(score ? batch * heads * tokens * len : batch * tokens * heads * d, 0.0f);
  for (uint64_t b = 0; b < batch; ++b) {
    for (uint64_t h = 0; h < heads; ++h) {
      const float* kv = cache.data() + ((b * kv_heads + h / group) * len) * d;
      for (uint64_t t = 0; t < tokens; ++t) {
        const uint64_t row = (b * tokens + t) * heads * d + h * d;   // in q or the context
        const uint64_t srow = ((b * heads + h) * tokens + t) * len;  // in the scores
        for (uint64_t j = 0; j < len; ++j) {
          if (score) {
            float sum = 0;
            for (uint64_t i = 0; i < d; ++i) sum += x[row + i] * kv[j * d + i];
            out[srow + j] = sum;
          } else {
            for (uint64_t i = 0; i < d; ++i) out[row + i] += x[srow + j] * kv[j * d + i];
          }
        }
      }
    }
  }
  return out;
}

// ATTENTION (fused): the score, softmax and context nodes it replaced, the
// scores and probabilities kept in fp32.
std::vector<float> fused_attention(const Node& node, const TensorIndex& tensors,
                                   const Values& values) {
  const Heads a = heads_of(node, tensors);
  const std::vector<float> probs =
      softmax_rows(attention(a, input(values, node, 0), input(values, node, 1), true), a.cache.len,
                   static_cast<float>(attr_real(node, "scale", 1)),
                   attr_int(node, "causal", 0) != 0, a.attention.tokens);
  return attention(a, probs, input(values, node, 2), false);
}

// KV_APPEND: cache[b, g, position + t, :] = x[b * T + t, g * d :]; the rest
// of the cache as it was.
std::vector<float> kv_append(const Node& node, const TensorIndex& tensors, const Values& values) {
  const auto [batch, kv_heads, len, d] =
      cache_shape(tensors.at(node.inputs(1), node.name()), node.name());
  const auto pos = static_cast<uint64_t>(attr_int(node, "position", 0));
  const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
  const std::vector<float>& x = input(values, node, 0);
  std::vector<float> cache = input(values, node, 1);
  for (uint64_t b = 0; b < batch; ++b) {
    for (uint64_t g = 0; g < kv_heads; ++g) {
      for (uint64_t t = 0; t < tokens; ++t) {
        std::copy_n(
            x.begin() + static_cast<std::ptrdiff_t>(((b * tokens + t) * kv_heads + g) * d), d,
            cache.begin() + static_cast<std::ptrdiff_t>(((b * kv_heads + g) * len + pos + t) * d));
      }
    }
  }
  return cache;
}

// MOE_GATES: each row's chosen probabilities over their sum.
std::vector<float> moe_gates(const Node& node, const TensorIndex& tensors, const Values& values) {
  const Tensor& p = tensors.at(node.inputs(0), node.name());
  const auto experts = static_cast<uint64_t>(p.shape(1));
  const auto k = static_cast<uint64_t>(tensors.at(node.outputs(0), node.name()).shape(1));
  const std::vector<float>& probs = input(values, node, 0);
  const std::vector<uint64_t> chosen = listed_rows(node, experts, "experts");
  std::vector<float> out(chosen.size());
  for (uint64_t b = 0; b < chosen.size() / k; ++b) {
    float sum = 0;
    for (uint64_t j = 0; j < k; ++j) sum += out[b * k + j] = probs[b * experts + chosen[b * k + j]];
    for (uint64_t j = 0; j < k; ++j) out[b * k + j] /= sum;
  }
  return out;
}

// GATHER_ROWS: out[i, :] = x[rows[i], :]. SCATTER_ADD: out = acc (or
// zeros) with out[rows[i], :] += part[i, :].
std::vector<float> rows_op(const Node& node, const TensorIndex& tensors, const Values& values) {
  const Tensor& y = tensors.at(node.outputs(0), node.name());
  const uint64_t width = last_dim(y);
  const std::vector<float>& x = input(values, node, 0);
  if (node.op() == GATHER_ROWS) {
    std::vector<float> out;
    out.reserve(num_elements(y));
    for (uint64_t r : listed_rows(node, x.size() / width)) {
      out.insert(out.end(), x.begin() + static_cast<std::ptrdiff_t>(r * width),
                 x.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
    }
    return out;
  }
  const bool gated = node.attrs().count("slots") != 0;
  std::vector<float> out = node.inputs_size() == 2 + gated
                               ? input(values, node, 1)
                               : std::vector<float>(num_elements(y), 0.0f);
  const std::vector<uint64_t> rows = listed_rows(node, out.size() / width);
  std::vector<float> gate(rows.size(), 1.0f);
  if (gated) {  // part row i times gates[rows[i], slots[i]]
    const Tensor& g = tensors.at(node.inputs(node.inputs_size() - 1), node.name());
    const auto k = static_cast<uint64_t>(g.shape(1));
    const std::vector<uint64_t> slots = listed_rows(node, k, "slots");
    const std::vector<float>& gates = input(values, node, node.inputs_size() - 1);
    for (size_t i = 0; i < rows.size(); ++i) gate[i] = gates[rows[i] * k + slots[i]];
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    for (uint64_t c = 0; c < width; ++c) out[rows[i] * width + c] += gate[i] * x[i * width + c];
  }
  return out;
}

// BATCH_MATMUL: out[p] = a[p] x b[p] (or b[0] for every p: broadcast).
std::vector<float> batch_matmul(const Node& node, const TensorIndex& tensors,
                                const Values& values) {
  const Tensor &at = tensors.at(node.inputs(0), node.name()),
               &bt = tensors.at(node.inputs(1), node.name());
  const auto m = static_cast<Eigen::Index>(at.shape(at.shape_size() - 2));
  const auto k = static_cast<Eigen::Index>(last_dim(at));
  const auto n = static_cast<Eigen::Index>(last_dim(bt));
  const std::vector<float>&a = input(values, node, 0), &b = input(values, node, 1);
  const auto batch = static_cast<Eigen::Index>(a.size()) / (m * k);
  const bool broadcast = static_cast<Eigen::Index>(b.size()) == k * n && batch > 1;
  std::vector<float> out(static_cast<size_t>(batch * m * n));
  for (Eigen::Index p = 0; p < batch; ++p) {
    Eigen::Map<Mat>(out.data() + p * m * n, m, n) =
        Eigen::Map<const Mat>(a.data() + p * m * k, m, k) *
        Eigen::Map<const Mat>(b.data() + (broadcast ? 0 : p * k * n), k, n);
  }
  return out;
}

// SLICE: out = x[..., offset : offset + width]; CONCAT: the inputs side by
// side on the last axis.
std::vector<float> layout(const Node& node, const TensorIndex& tensors, const Values& values) {
  const Tensor& y = tensors.at(node.outputs(0), node.name());
  const uint64_t width = last_dim(y), rows = num_elements(y) / width;
  std::vector<float> out(num_elements(y));
  if (node.op() == SLICE) {
    const uint64_t full = last_dim(tensors.at(node.inputs(0), node.name()));
    const auto offset = static_cast<uint64_t>(attr_int(node, "offset", 0));
    const std::vector<float>& x = input(values, node, 0);
    for (uint64_t r = 0; r < rows; ++r) {
      std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(r * full + offset), width,
                  out.begin() + static_cast<std::ptrdiff_t>(r * width));
    }
    return out;
  }
  uint64_t offset = 0;
  for (int i = 0; i < node.inputs_size(); ++i) {
    const uint64_t w = last_dim(tensors.at(node.inputs(i), node.name()));
    const std::vector<float>& x = input(values, node, i);
    for (uint64_t r = 0; r < rows; ++r) {
      std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(r * w), w,
                  out.begin() + static_cast<std::ptrdiff_t>(r * width + offset));
    }
    offset += w;
  }
  return out;
}

}  // namespace

TensorValues interpret(const Graph& graph, const TensorValues& inputs) {
  Values values{inputs, {}, {}};
  for (const Tensor& t : graph.tensors()) {
    if (!t.alias_of().empty()) values.alias_of[t.name()] = t.alias_of();
  }
  const TensorIndex tensors(graph);
  for (const auto& [name, v] : inputs) {
    const int i = tensors.index(name);
    if (i >= 0 && v.size() != num_elements(graph.tensors(i))) {
      throw UserError(fmt::format("reference: input '{}': {} values for its {} elements", name,
                                  v.size(), num_elements(graph.tensors(i))));
    }
  }
  for (const Node& node : graph.nodes()) {
    std::vector<float> out;
    switch (node.op()) {
      case MATMUL:
        out = matmul(node, tensors, values);
        break;
      case ATTENTION_SCORE:
      case ATTENTION_CONTEXT:
        out = attention(heads_of(node, tensors), input(values, node, 0), input(values, node, 1),
                        node.op() == ATTENTION_SCORE);
        break;
      case ATTENTION:
        out = fused_attention(node, tensors, values);
        break;
      case KV_APPEND:
        out = kv_append(node, tensors, values);
        break;
      case EMBEDDING:
        out = embedding(node, tensors, values);
        break;
      case MOE_GATES:
        out = moe_gates(node, tensors, values);
        break;
      case GATHER_ROWS:
      case SCATTER_ADD:
        out = rows_op(node, tensors, values);
        break;
      case BATCH_MATMUL:
        out = batch_matmul(node, tensors, values);
        break;
      case SLICE:
      case CONCAT:
        out = layout(node, tensors, values);
        break;
      default:
        out = vector_op(node, tensors, values);
    }
    const Tensor& y = tensors.at(node.outputs(0), node.name());
    for (float& v : out) v = round_to(y.dtype(), v);
    values.produced[y.name()] = std::move(out);
  }
  return std::move(values.produced);
}

}  // namespace npusim::compiler

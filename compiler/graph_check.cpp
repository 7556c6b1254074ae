#include "compiler/graph_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "arch/vector_costs.h"
#include "common/checked.h"
#include "common/dtype.h"
#include "common/error.h"
#include "compiler/lowering/lowering.h"

namespace npusim::compiler {
namespace {

std::string tensor_field(const std::string& name) {
  return "tensor '" + name + "'";
}
std::string node_field(const Node& n) {
  return "node '" + n.name() + "'";
}

std::string shape_text(const Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.shape(), ", "));
}

// The product of `factors`, or nullopt when it does not fit in 64 bits.
std::optional<uint64_t> product(std::initializer_list<uint64_t> factors) {
  uint64_t n = 1;
  for (uint64_t f : factors) {
    const std::optional<uint64_t> next = checked_mul(n, f);
    if (!next) return std::nullopt;
    n = *next;
  }
  return n;
}

// Tensors are checked first: below, every shape has 1..kMaxRank dimensions
// of at least 1 and at most kMaxTensorElements elements, so element counts
// and dimensions fit in 64 bits.
uint64_t elements(const Tensor& t) {
  return *checked_product(t.shape());
}
uint64_t dim(const Tensor& t, int i) {
  return static_cast<uint64_t>(t.shape(i));
}
uint64_t last(const Tensor& t) {
  return dim(t, t.shape_size() - 1);
}

class Checker {
 public:
  Checker(Graph& graph, const std::string& where) : g_(graph), where_(where) {}

  void run() {
    for (int i = 0; i < g_.tensors_size(); ++i) tensor(i);
    require(g_.nodes_size() > 0, where_, "nodes", "the graph has no nodes: nothing to compile");
    // Which node computes each tensor, before the order is checked.
    for (int i = 0; i < g_.nodes_size(); ++i) {
      const Node& n = g_.nodes(i);
      require(!n.name().empty(), where_, fmt::format("nodes[{}].name", i),
              "every node needs a name");
      auto [it, fresh] = node_names_.emplace(n.name(), i);
      require(fresh, where_, node_field(n),
              fmt::format("is defined twice (nodes[{}] and nodes[{}])", it->second, i));
      for (int k = 0; k < n.outputs_size(); ++k) {
        const Tensor& t = at(n, n.outputs(k), fmt::format("outputs[{}]", k));
        require(!t.is_parameter(), where_, node_field(n),
                fmt::format("computes '{}', a parameter (parameters are only read)", t.name()));
        auto [p, first] = producer_.emplace(t.name(), i);
        require(first, where_, tensor_field(t.name()),
                fmt::format("is computed by node '{}' and again by node '{}'",
                            g_.nodes(p->second).name(), n.name()));
      }
    }
    for (int i = 0; i < g_.nodes_size(); ++i) node(i);
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw UserError(where_ + ": " + field + ": " + what);
  }

  void tensor(int i) {
    Tensor& t = *g_.mutable_tensors(i);
    require(!t.name().empty(), where_, fmt::format("tensors[{}].name", i),
            "every tensor needs a name");
    const std::string f = tensor_field(t.name());
    auto [it, fresh] = tensors_.emplace(t.name(), i);
    require(fresh, where_, f,
            fmt::format("is defined twice (tensors[{}] and tensors[{}])", it->second, i));
    require(t.dtype() != DTYPE_UNSPECIFIED, where_, f + ".dtype",
            "is missing (one of FP32, FP16, BF16, FP8, INT8, INT4)");
    require(DType_IsValid(t.dtype()) && dtype_bits(t.dtype()) > 0, where_, f + ".dtype",
            fmt::format("{} is not one of FP32, FP16, BF16, FP8, INT8, INT4", t.dtype()));
    require(t.tensor_class() != TENSOR_CLASS_UNSPECIFIED && TensorClass_IsValid(t.tensor_class()),
            where_, f + ".tensor_class", "must be WEIGHT, KV_CACHE or ACTIVATION");
    require(t.shape_size() >= 1 && t.shape_size() <= kMaxRank, where_, f + ".shape",
            fmt::format("needs 1 to {} dimensions, has {}", kMaxRank, t.shape_size()));
    uint64_t n = 1;
    for (int d = 0; d < t.shape_size(); ++d) {
      require(t.shape(d) >= 1, where_, fmt::format("{}.shape[{}]", f, d),
              fmt::format("must be >= 1, not {}", t.shape(d)));
      const std::optional<uint64_t> next = checked_mul(n, static_cast<uint64_t>(t.shape(d)));
      require(next && *next <= kMaxTensorElements, where_, f + ".shape",
              fmt::format("{} has more than {} elements", shape_text(t), kMaxTensorElements));
      n = *next;
    }
    const uint64_t bytes = dtype_bytes(t.dtype(), n);
    if (t.size_bytes() == 0) t.set_size_bytes(bytes);  // absent: computed
    require(t.size_bytes() == bytes, where_, f + ".size_bytes",
            fmt::format("must be {} ({} of {}), not {}", bytes, shape_text(t),
                        DType_Name(t.dtype()), t.size_bytes()));
    if (!t.alias_of().empty()) {
      auto a = tensors_.find(t.alias_of());
      require(a != tensors_.end() && a->second < i, where_, f + ".alias_of",
              "'" + t.alias_of() + "' must be an earlier tensor");
      require(g_.tensors(a->second).size_bytes() == t.size_bytes(), where_, f + ".alias_of",
              fmt::format("'{}' has {} bytes, this view {}", t.alias_of(),
                          g_.tensors(a->second).size_bytes(), t.size_bytes()));
    }
  }

  const Tensor& at(const Node& n, const std::string& name, const std::string& slot) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      fail(node_field(n) + "." + slot, "tensor '" + name + "' is not defined");
    }
    return g_.tensors(it->second);
  }

  // An integer attribute (`fallback` when absent); it must be an integer.
  int64_t attr(const Node& n, const std::string& key, int64_t fallback) const {
    auto it = n.attrs().find(key);
    if (it == n.attrs().end()) return fallback;
    require(it->second.value_case() == AttrValue::kI, where_, node_field(n) + ".attrs." + key,
            "must be an integer");
    return it->second.i();
  }

  void arity(const Node& n, int min_in, int max_in, const char* operands) const {
    require(n.inputs_size() >= min_in && n.inputs_size() <= max_in && n.outputs_size() == 1, where_,
            node_field(n),
            fmt::format("{} takes {} and gives one output, not {} inputs and {} outputs",
                        OpType_Name(n.op()), operands, n.inputs_size(), n.outputs_size()));
  }

  const Tensor& in(const Node& n, int i) const {
    return at(n, n.inputs(i), fmt::format("inputs[{}]", i));
  }
  const Tensor& out(const Node& n) const { return at(n, n.outputs(0), "outputs[0]"); }

  void node(int i) {
    const Node& n = g_.nodes(i);
    const std::string f = node_field(n);
    require(n.op() != OP_TYPE_UNSPECIFIED && OpType_IsValid(n.op()), where_, f + ".op",
            fmt::format("{} is not an op npusim knows (graph.proto's OpType)", n.op()));
    require(LoweringRegistry::find(n.op()) != nullptr, where_, f + ".op",
            OpType_Name(n.op()) + " has no lowering to the NPU");
    for (int k = 0; k < n.inputs_size(); ++k) {
      const Tensor& t = at(n, n.inputs(k), fmt::format("inputs[{}]", k));
      auto p = producer_.find(t.name());
      if (p == producer_.end() || p->second < i) continue;
      const bool in_place = p->second == i && n.op() == KV_APPEND && k == 1;
      if (in_place) continue;
      if (p->second == i) {
        fail(f, fmt::format("reads '{}', its own output (a cycle)", t.name()));
      }
      fail(f, fmt::format("reads '{}' before node '{}' computes it: nodes must be listed in "
                          "execution order, and a graph with a cycle has none",
                          t.name(), g_.nodes(p->second).name()));
    }
    shapes(n);
  }

  // The operands' shapes and attributes for each op.
  void shapes(const Node& n) {
    const std::string f = node_field(n);
    switch (n.op()) {
      case MATMUL: {
        arity(n, 2, 3, "(input, weight [K, N][, scales])");
        const Tensor &x = in(n, 0), &w = in(n, 1), &y = out(n);
        require(w.shape_size() == 2, where_, f, "the weight '" + w.name() + "' must be 2-D");
        const bool t = attr(n, "weight_transposed", 0) != 0;
        const uint64_t k = dim(w, t ? 1 : 0), cols = dim(w, t ? 0 : 1);
        if (n.inputs_size() == 3) {
          require(w.dtype() == INT8 || w.dtype() == INT4, where_, f,
                  fmt::format("scales dequantise an INT8 or INT4 weight, not {}",
                              DType_Name(w.dtype())));
          const int64_t g = attr(n, "scale_group", static_cast<int64_t>(k));
          require(g >= 1 && static_cast<uint64_t>(g) <= k, where_, f + ".attrs.scale_group",
                  fmt::format("must be between 1 and the weight's {} rows, not {}", k, g));
          const Tensor& sc = in(n, 2);
          require(dtype_bits(sc.dtype()) >= 16, where_, f,
                  fmt::format("the scales '{}' must be FP16, BF16 or FP32, not {}", sc.name(),
                              DType_Name(sc.dtype())));
          const uint64_t groups = (k + static_cast<uint64_t>(g) - 1) / static_cast<uint64_t>(g);
          require(sc.shape_size() == 2 && dim(sc, 0) == groups && dim(sc, 1) == cols, where_, f,
                  fmt::format("the scales '{}' {} must be [{}, {}]: a row per {} weight rows, a "
                              "column per output column",
                              sc.name(), shape_text(sc), groups, cols, g));
        }
        require(last(x) == k, where_, f,
                fmt::format("the input '{}' {} has rows of {}, the weight '{}' {} wants {}",
                            x.name(), shape_text(x), last(x), w.name(), shape_text(w), k));
        require(last(y) == cols && product({elements(x) / k, cols}) == elements(y), where_, f,
                fmt::format("the output '{}' {} must have {} rows of {}", y.name(), shape_text(y),
                            elements(x) / k, cols));
        return;
      }
      case BATCH_MATMUL: {
        arity(n, 2, 2, "(a [.., M, K], b [.., K, N])");
        const Tensor &a = in(n, 0), &b = in(n, 1), &y = out(n);
        require(a.shape_size() >= 2 && b.shape_size() >= 2, where_, f,
                "both operands need at least two dimensions");
        const uint64_t m = dim(a, a.shape_size() - 2), k = last(a), cols = last(b);
        require(dim(b, b.shape_size() - 2) == k, where_, f,
                fmt::format("the inner dimensions differ: '{}' {} and '{}' {}", a.name(),
                            shape_text(a), b.name(), shape_text(b)));
        const uint64_t batch = elements(a) / (m * k), b_batch = elements(b) / (k * cols);
        require(b_batch == batch || b_batch == 1, where_, f,
                "b must have a's batch or none (broadcast)");
        require(product({batch, m, cols}) == elements(y), where_, f,
                fmt::format("the output '{}' {} must have {} elements", y.name(), shape_text(y),
                            batch * m * cols));
        return;
      }
      case ATTENTION_SCORE:
      case ATTENTION_CONTEXT: {
        arity(n, 2, 2, "(activations, cache [batch, kv_heads, L, d])");
        const Tensor &x = in(n, 0), &cache = in(n, 1), &y = out(n);
        const auto [batch, kv, len, d, heads, tokens] = attention(n, cache);
        const auto q = product({batch, tokens, heads, d});
        const auto scores = product({batch, heads, tokens, len});
        const bool score = n.op() == ATTENTION_SCORE;
        operand(n, x, score ? q : scores, score ? "the queries" : "the probabilities");
        operand(n, y, score ? scores : q, score ? "the scores" : "the context");
        return;
      }
      case ATTENTION: {
        arity(n, 3, 3, "(q, K cache, V cache)");
        const Tensor &q = in(n, 0), &k = in(n, 1), &v = in(n, 2);
        const auto [batch, kv, len, d, heads, tokens] = attention(n, k);
        require(std::equal(v.shape().begin(), v.shape().end(), k.shape().begin(), k.shape().end()),
                where_, f,
                fmt::format("the K cache {} and V cache {} differ in shape", shape_text(k),
                            shape_text(v)));
        require(v.dtype() == k.dtype(), where_, f,
                fmt::format("the K cache ({}) and V cache ({}) differ in dtype",
                            DType_Name(k.dtype()), DType_Name(v.dtype())));
        const int64_t causal = attr(n, "causal", 0);
        require(causal == 0 || causal == 1, where_, f + ".attrs.causal", "must be 0 or 1");
        scale_attr(n, f);
        operand(n, q, product({batch, tokens, heads, d}), "the queries");
        operand(n, out(n), product({batch, tokens, heads, d}), "the context");
        return;
      }
      case KV_APPEND: {
        arity(n, 2, 2, "(new rows, cache [batch, kv_heads, L, d])");
        const Tensor &x = in(n, 0), &cache = in(n, 1);
        require(n.outputs(0) == n.inputs(1), where_, f,
                fmt::format("KV_APPEND updates its cache in place: the output must be '{}', not "
                            "'{}'",
                            n.inputs(1), n.outputs(0)));
        const auto [batch, kv, len, d] = cache_dims(n, cache);
        const int64_t tokens = attr(n, "tokens", 1), pos = attr(n, "position", 0);
        require(tokens >= 1 && static_cast<uint64_t>(tokens) <= len, where_, f + ".attrs.tokens",
                fmt::format("must be between 1 and the cache length {}, not {}", len, tokens));
        require(pos >= 0 && static_cast<uint64_t>(pos) <= len - static_cast<uint64_t>(tokens),
                where_, f + ".attrs.position",
                fmt::format("{} new tokens at {} do not fit a cache of {}", tokens, pos, len));
        operand(n, x, product({batch, static_cast<uint64_t>(tokens), kv, d}), "the new rows");
        return;
      }
      case EMBEDDING: {
        arity(n, 1, 1, "(table [rows, width])");
        const Tensor &table = in(n, 0), &y = out(n);
        require(table.shape_size() == 2, where_, f,
                "the table '" + table.name() + "' must be [rows, width]");
        require(elements(y) % dim(table, 1) == 0, where_, f,
                fmt::format("the output '{}' {} must be rows of the table's width {}", y.name(),
                            shape_text(y), dim(table, 1)));
        const int64_t row = attr(n, "row", -1), tokens = attr(n, "tokens", 1);
        (void)attr(n, "seed", 0);
        if (n.attrs().count("rows") != 0) {
          const uint64_t listed = rows(n, dim(table, 0));
          require(listed == elements(y) / dim(table, 1), where_, f + ".attrs.rows",
                  fmt::format("lists {} rows for the output's {}", listed,
                              elements(y) / dim(table, 1)));
        }
        require(tokens >= 1, where_, f + ".attrs.tokens", "must be >= 1");
        require(row == -1 || (row >= 0 && static_cast<uint64_t>(tokens) <= dim(table, 0) &&
                              static_cast<uint64_t>(row) <= dim(table, 0) - tokens),
                where_, f + ".attrs.row",
                fmt::format("{} rows from {} are past the table's {}", tokens, row, dim(table, 0)));
        return;
      }
      case GATHER_ROWS: {
        arity(n, 1, 1, "(x)");
        const Tensor &x = in(n, 0), &y = out(n);
        const uint64_t picked = rows(n, elements(x) / last(x));
        operand(n, y, product({picked, last(x)}), "one row per listed row");
        return;
      }
      case SCATTER_ADD: {
        const bool gated = n.attrs().count("slots") != 0;
        arity(n, 1 + gated, 2 + gated, gated ? "(part[, acc], gates)" : "(part[, acc])");
        const Tensor &part = in(n, 0), &y = out(n);
        const uint64_t picked = rows(n, elements(y) / last(y));
        operand(n, part, product({picked, last(y)}), "one row per listed row");
        if (n.inputs_size() == 2 + gated) operand(n, in(n, 1), elements(y), "the output's size");
        if (gated) {
          const Tensor& gates = in(n, n.inputs_size() - 1);
          require(gates.shape_size() == 2 && dim(gates, 0) == elements(y) / last(y), where_, f,
                  fmt::format("the gates '{}' {} must have a row per output row", gates.name(),
                              shape_text(gates)));
          require(rows(n, last(gates), "slots") == picked, where_, f + ".attrs.slots",
                  "must list one slot per listed row");
        }
        return;
      }
      case MOE_GATES: {
        arity(n, 1, 1, "(probs [B, E])");
        const Tensor &p = in(n, 0), &y = out(n);
        require(
            p.shape_size() == 2 && y.shape_size() == 2 && dim(y, 0) == dim(p, 0), where_, f,
            fmt::format("takes probs [B, E] {} to gates [B, k] {}", shape_text(p), shape_text(y)));
        require(rows(n, dim(p, 1), "experts") == elements(y), where_, f + ".attrs.experts",
                fmt::format("must list {} experts: k = {} for each of the {} rows", elements(y),
                            dim(y, 1), dim(y, 0)));
        return;
      }
      case SLICE: {
        arity(n, 1, 1, "(x)");
        const Tensor &x = in(n, 0), &y = out(n);
        const int64_t offset = attr(n, "offset", 0);
        require(offset >= 0 && static_cast<uint64_t>(offset) <= last(x) &&
                    last(y) <= last(x) - static_cast<uint64_t>(offset),
                where_, f + ".attrs.offset",
                fmt::format("columns {} to {} are not inside the input's {}", offset,
                            offset + static_cast<int64_t>(last(y)), last(x)));
        operand(n, y, product({elements(x) / last(x), last(y)}), "the input's rows");
        return;
      }
      case CONCAT: {
        arity(n, 1, 1 << 16, "(x0, x1, ...)");
        const Tensor& y = out(n);
        const uint64_t r = elements(y) / last(y);
        uint64_t width = 0;
        for (int i = 0; i < n.inputs_size(); ++i) {
          const Tensor& x = in(n, i);
          operand(n, x, product({r, last(x)}), "the output's rows");
          width += last(x);  // each <= 2^40, at most 2^16 of them
        }
        require(width == last(y), where_, f,
                fmt::format("the inputs' widths add up to {}, the output '{}' has {}", width,
                            y.name(), last(y)));
        return;
      }
      case RMS_NORM:
        norm_eps(n, f);
        return vector(n, RMSNORM, 1, 1);
      case LAYER_NORM:
        norm_eps(n, f);
        return vector(n, LAYERNORM, 1, 2);
      case SOFTMAX_OP: {
        vector(n, SOFTMAX, 1, 0);
        scale_attr(n, f);
        const int64_t causal = attr(n, "causal", 0), tokens = attr(n, "tokens", 1);
        require(causal == 0 || causal == 1, where_, f + ".attrs.causal", "must be 0 or 1");
        const Tensor& x = in(n, 0);
        require(tokens >= 1 && static_cast<uint64_t>(tokens) <= last(x) &&
                    (elements(x) / last(x)) % static_cast<uint64_t>(tokens) == 0,
                where_, f + ".attrs.tokens",
                "must be at least 1, at most the row length and divide the input's rows");
        return;
      }
      case ROTARY: {
        vector(n, ROPE, 1, 0, "head_dim");
        const int64_t hd = attr(n, "head_dim", static_cast<int64_t>(last(in(n, 0))));
        require(
            hd >= 2 && hd % 2 == 0 && last(in(n, 0)) % static_cast<uint64_t>(hd) == 0, where_,
            f + ".attrs.head_dim",
            fmt::format("{} must be even and divide the rows' {} elements", hd, last(in(n, 0))));
        const double theta = attr_real(n, "theta", 10000);
        require(theta >= 1 && theta <= 1e9, where_, f + ".attrs.theta",
                fmt::format("must be between 1 and 1e9, not {:g}", theta));
        require(attr(n, "position", 0) >= 0 && attr(n, "position", 0) <= (int64_t{1} << 24), where_,
                f + ".attrs.position", "must be between 0 and 2^24");
        const int64_t tokens = attr(n, "tokens", 1);
        require(tokens >= 1 &&
                    (elements(in(n, 0)) / last(in(n, 0))) % static_cast<uint64_t>(tokens) == 0,
                where_, f + ".attrs.tokens", "must be at least 1 and divide the input's rows");
        return;
      }
      case ALL_REDUCE: {
        arity(n, 1, 1, "(partial sums)");
        const int64_t ranks = attr(n, "ranks", 0);
        require(ranks >= 2 && ranks <= 4096, where_, f + ".attrs.ranks",
                "must be between 2 and 4096 cores");
        require(in(n, 0).dtype() == out(n).dtype() && elements(in(n, 0)) == elements(out(n)) &&
                    elements(out(n)) >= static_cast<uint64_t>(ranks),
                where_, f,
                "sums into an output of its input's type and size, at least one element per core");
        return;
      }
      case PIPE_SEND:
      case PIPE_RECV: {
        const bool send = n.op() == PIPE_SEND;
        require(n.inputs_size() == (send ? 1 : 0) && n.outputs_size() == (send ? 0 : 1), where_, f,
                send ? "PIPE_SEND takes (x) and gives no output"
                     : "PIPE_RECV takes no input and gives one output");
        return;
      }
      case ADD_OP:
        return vector(n, ADD, 2, 0);
      case MUL_OP:
        return vector(n, MUL, 2, 0);
      case BIAS_ADD:
        return vector(n, ADD, 1, 1);
      case SILU_OP:
        return vector(n, SILU, 1, 0);
      case GELU_OP:
        return vector(n, GELU, 1, 0);
      case RELU_OP:
        return vector(n, RELU, 1, 0);
      case SWIGLU_OP:
        return vector(n, SWIGLU, 2, 0);
      case REDUCE_MEAN_OP:
        return vector(n, REDUCE_MEAN, 1, 0);
      case ELEMENTWISE: {
        auto it = n.attrs().find("kind");
        VectorKind kind = VECTOR_KIND_UNSPECIFIED;
        require(it != n.attrs().end() && it->second.value_case() == AttrValue::kS &&
                    VectorKind_Parse(it->second.s(), &kind) && kind != VECTOR_KIND_UNSPECIFIED &&
                    arch::vector_cost(kind) != nullptr,
                where_, f + ".attrs.kind", "must name a vector operation (arch/isa.proto)");
        arity(n, 1, 2, "(x[, y])");
        if (n.attrs().count("transpose_rows") != 0) {  // a transposing COPY
          const int64_t r = attr(n, "transpose_rows", 0), group = attr(n, "transpose_group", 0);
          const uint64_t len = elements(in(n, 0)), row = last(in(n, 0));
          require(kind == COPY && n.inputs_size() == 1 && r >= 1 && group >= 1 &&
                      len % static_cast<uint64_t>(group) == 0 &&
                      static_cast<uint64_t>(group) % (static_cast<uint64_t>(r) * row) == 0,
                  where_, f + ".attrs.transpose_rows",
                  fmt::format("a COPY of one input whose transpose_group ({}) divides its {} "
                              "elements into transpose_rows ({}) rows of blocks of {}",
                              group, len, r, row));
        }
        if (n.inputs_size() == 1) return vector(n, kind, 1, 0);
        const bool same = elements(in(n, 1)) == elements(in(n, 0));
        return vector(n, kind, same ? 2 : 1, same ? 0 : 1);
      }
      default:
        fail(f + ".op", OpType_Name(n.op()) + " has no lowering to the NPU");
    }
  }

  // A norm's epsilon: between 0 and 1.
  void norm_eps(const Node& n, const std::string& f) {
    const double eps = compiler::norm_eps(n);
    require(eps >= 0 && eps <= 1, where_, f + ".attrs.eps",
            fmt::format("must be between 0 and 1, not {:g}", eps));
  }

  // A softmax's scale of its scores: above 0, at most 1e6.
  void scale_attr(const Node& n, const std::string& f) {
    const double scale = attr_real(n, "scale", 1);
    require(scale > 0 && scale <= 1e6, where_, f + ".attrs.scale",
            fmt::format("must be above 0 and at most 1e6, not {:g}", scale));
  }

  // A vector op: `data` activations of the same size, then `params` vectors
  // of the row length; the output has the input's size, or one element per
  // row when the kind reduces rows.
  void vector(const Node& n, VectorKind kind, int data, int params,
              const char* row_attr = nullptr) {
    const std::string f = node_field(n);
    arity(n, data + params, data + params,
          data == 2     ? "two inputs of one size"
          : params == 0 ? "(x)"
                        : "(x, row parameters)");
    const Tensor& x = in(n, 0);
    uint64_t row = last(x);
    if (row_attr != nullptr) {
      const int64_t r = attr(n, row_attr, static_cast<int64_t>(row));
      require(r >= 1 && elements(x) % static_cast<uint64_t>(r) == 0, where_,
              f + ".attrs." + row_attr,
              fmt::format("{} must divide the input's {} elements", r, elements(x)));
      row = static_cast<uint64_t>(r);
    }
    if (data == 2) operand(n, in(n, 1), elements(x), "the first input's size");
    for (int i = data; i < data + params; ++i) operand(n, in(n, i), row, "the row length");
    const arch::VectorCost* cost = arch::vector_cost(kind);
    const bool reduces = cost != nullptr && cost->reduces_rows;
    operand(n, out(n), reduces ? elements(x) / row : elements(x),
            reduces ? "one element per input row" : "the input's size");
  }

  // `t` must have `want` elements (nullopt: more than fit in 64 bits).
  void operand(const Node& n, const Tensor& t, std::optional<uint64_t> want,
               const char* what) const {
    if (want && elements(t) == *want) return;
    fail(node_field(n),
         want ? fmt::format("'{}' {} must have {} elements ({})", t.name(), shape_text(t), *want,
                            what)
              : fmt::format("'{}' {}: the attributes ask for more elements than fit ({})", t.name(),
                            shape_text(t), what));
  }

  struct CacheDims {
    uint64_t batch, kv_heads, len, d;
  };
  CacheDims cache_dims(const Node& n, const Tensor& cache) const {
    require(cache.shape_size() == 4, where_, node_field(n),
            fmt::format("the cache '{}' {} must be [batch, kv_heads, L, d]", cache.name(),
                        shape_text(cache)));
    return {dim(cache, 0), dim(cache, 1), dim(cache, 2), dim(cache, 3)};
  }

  struct AttentionDims {
    uint64_t batch, kv_heads, len, d, heads, tokens;
  };
  AttentionDims attention(const Node& n, const Tensor& cache) const {
    const auto [batch, kv, len, d] = cache_dims(n, cache);
    const int64_t heads = attr(n, "heads", 0), tokens = attr(n, "tokens", 1);
    require(
        heads >= 1 && static_cast<uint64_t>(heads) % kv == 0, where_,
        node_field(n) + ".attrs.heads",
        fmt::format("must be a positive multiple of the cache's {} kv heads, not {}", kv, heads));
    require(tokens >= 1 && static_cast<uint64_t>(tokens) <= len, where_,
            node_field(n) + ".attrs.tokens",
            fmt::format("must be between 1 and the cache length {}, not {}", len, tokens));
    return {batch, kv, len, d, static_cast<uint64_t>(heads), static_cast<uint64_t>(tokens)};
  }

  // The comma-separated rows attribute: how many, each below `limit`.
  uint64_t rows(const Node& n, uint64_t limit, const char* key = "rows") const {
    const std::string f = node_field(n) + ".attrs." + key;
    auto it = n.attrs().find(key);
    require(it != n.attrs().end() && it->second.value_case() == AttrValue::kS, where_, f,
            "is missing (row numbers, comma-separated)");
    const std::string& text = it->second.s();
    uint64_t count = 0;
    for (size_t begin = 0; begin <= text.size();) {
      size_t end = text.find(',', begin);
      if (end == std::string::npos) end = text.size();
      uint64_t r = 0;
      const auto [ptr, ec] = std::from_chars(text.data() + begin, text.data() + end, r);
      require(ec == std::errc() && ptr == text.data() + end && end > begin && r < limit, where_, f,
              fmt::format("'{}' is not a row below {}",
                          text.substr(begin, std::min<size_t>(end - begin, 24)), limit));
      ++count;
      begin = end + 1;
    }
    return count;
  }

  Graph& g_;
  const std::string& where_;
  std::unordered_map<std::string, int> tensors_;
  std::unordered_map<std::string, int> node_names_;
  std::unordered_map<std::string, int> producer_;
};

}  // namespace

void check_graph(Graph& graph, const std::string& where) {
  Checker(graph, where).run();
}

}  // namespace npusim::compiler

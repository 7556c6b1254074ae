#include "compiler/frontends/onnx_import.h"

#include <fmt/format.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/checked.h"
#include "common/error.h"
#include "common/file.h"
#include "compiler/graph_check.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {
namespace {

class Importer {
 public:
  Importer(const std::string& path, const DecodeShape& shape) : path_(path), shape_(shape) {}

  Graph run(onnx::ModelProto& model) {
    opset(model);
    validate(model.graph());
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      throw UserError(fmt::format("{}: ONNX shape inference failed: {}", path_, e.what()));
    }
    const onnx::GraphProto& g = model.graph();
    graph_.set_name(g.name().empty() ? path_ : g.name());
    for (const auto& init : g.initializer()) initializer(init);
    for (const auto& vi : g.value_info()) shape_info(vi);
    for (const auto& vi : g.output()) shape_info(vi);
    for (const auto& in : g.input()) {
      if (known_.count(in.name())) continue;  // an initializer listed as input
      if (!in.type().tensor_type().has_shape()) {
        throw UserError(fmt::format(
            "{}: input '{}' has no shape; npusim needs static shapes (export with fixed sizes)",
            path_, in.name()));
      }
      shapes_[in.name()] = dims(in, in.name());
      activation(in.name(), in.name());
    }
    find_activation_patterns(g);
    for (int i = 0; i < g.node_size(); ++i) {
      if (auto it = fused_.find(i); it != fused_.end()) {
        // The last node of a GELU or SiLU pattern: one vector op for all.
        const onnx::NodeProto& last = g.node(i);
        const Value& x = value(last, it->second.input);
        if (x.kind != Kind::Activation) fail(last, "the activation's input must be computed");
        emit(last, it->second.op, {x.tensor}, {out(last)});
      } else if (!absorbed_.count(i)) {
        lower(g.node(i));
      }
    }
    check_graph(graph_, path_);
    return std::move(graph_);
  }

 private:
  using Dims = std::vector<int64_t>;
  enum class Kind { Activation, Parameter, Constant };
  struct Value {
    Kind kind;
    std::string tensor;  // graph tensor name (activations and parameters)
    Dims shape;
    std::vector<int64_t> ints;  // constant integer data (ReduceMean axes)
  };

  [[noreturn]] void fail(const onnx::NodeProto& node, const std::string& what) const {
    throw UserError(
        fmt::format("{}: node '{}' ({}): {}", path_, node.name(), node.op_type(), what));
  }

  Dims dims(const onnx::ValueInfoProto& vi, const std::string& name) const {
    Dims out;
    if (!vi.type().has_tensor_type()) return out;
    for (const auto& d : vi.type().tensor_type().shape().dim()) {
      if (!d.has_dim_value()) {
        throw UserError(fmt::format(
            "{}: value '{}' has a dynamic dimension '{}'; npusim needs static shapes (export "
            "with fixed sizes)",
            path_, name, d.dim_param()));
      }
      if (d.dim_value() <= 0) {
        throw UserError(fmt::format("{}: value '{}': dimension {} is {}; it must be >= 1", path_,
                                    name, out.size(), d.dim_value()));
      }
      out.push_back(d.dim_value());
    }
    count(out, name);
    return out;
  }

  // Elements of a shape; UserError naming the value when a dimension is
  // negative or there are more than a tensor may have.
  uint64_t count(const Dims& d, const std::string& name) const {
    const std::optional<uint64_t> n = checked_product(d);
    if (!n || *n > kMaxTensorElements) {
      throw UserError(fmt::format("{}: value '{}': shape [{}] has more than {} elements", path_,
                                  name, fmt::join(d, ", "), kMaxTensorElements));
    }
    return *n;
  }

  // ONNX element types npusim models (the precision is --dtype's; the
  // file's only has to be a number).
  void element_type(int32_t type, const std::string& what) const {
    using T = onnx::TensorProto;
    switch (type) {
      case T::FLOAT:
      case T::FLOAT16:
      case T::BFLOAT16:
      case T::DOUBLE:
      case T::INT8:
      case T::UINT8:
      case T::INT16:
      case T::UINT16:
      case T::INT32:
      case T::UINT32:
      case T::INT64:
      case T::UINT64:
      case T::BOOL:
        return;
      default:
        throw UserError(
            fmt::format("{}: {}: element type {} is not supported (floats, integers and bools are)",
                        path_, what,
                        T::DataType_IsValid(type) ? T::DataType_Name(static_cast<T::DataType>(type))
                                                  : std::to_string(type)));
    }
  }

  // The default domain's opset: one this ONNX library has the ops of.
  void opset(const onnx::ModelProto& model) const {
    const auto& range =
        onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN);
    bool found = false;
    for (const auto& o : model.opset_import()) {
      if (!o.domain().empty() && o.domain() != "ai.onnx") continue;
      found = true;
      if (o.version() < range.first || o.version() > range.second) {
        throw UserError(fmt::format(
            "{}: opset_import: opset {} of the default domain is not one of {} to {} (this ONNX "
            "library's); export with opset_version between them",
            path_, o.version(), range.first, range.second));
      }
    }
    if (!found) {
      throw UserError(fmt::format(
          "{}: opset_import: has no opset for the default domain (the model's ops are unversioned)",
          path_));
    }
  }

  // Before shape inference: the initializers' and inputs' types and
  // dimensions, every node's operand counts, and that every node reads only
  // values defined before it (ONNX lists nodes in topological order).
  void validate(const onnx::GraphProto& g) const {
    std::set<std::string> defined;
    for (const auto& t : g.initializer()) {
      if (t.name().empty()) throw UserError(path_ + ": initializer: has no name");
      element_type(t.data_type(), "initializer '" + t.name() + "'");
      for (int i = 0; i < t.dims_size(); ++i) {
        if (t.dims(i) <= 0) {
          throw UserError(fmt::format("{}: initializer '{}': dimension {} is {}; it must be >= 1",
                                      path_, t.name(), i, t.dims(i)));
        }
      }
      count(Dims(t.dims().begin(), t.dims().end()), t.name());
      defined.insert(t.name());
    }
    for (const auto& in : g.input()) {
      if (defined.count(in.name())) continue;
      if (!in.type().has_tensor_type()) {
        throw UserError(fmt::format("{}: input '{}': is not a tensor", path_, in.name()));
      }
      element_type(in.type().tensor_type().elem_type(), "input '" + in.name() + "'");
      if (in.type().tensor_type().has_shape()) (void)dims(in, in.name());
      defined.insert(in.name());
    }
    std::map<std::string, int> producer;
    for (int i = 0; i < g.node_size(); ++i) {
      for (const auto& o : g.node(i).output()) producer.emplace(o, i);
    }
    for (int i = 0; i < g.node_size(); ++i) {
      const onnx::NodeProto& node = g.node(i);
      operands(node);
      for (const auto& name : node.input()) {
        if (name.empty() || defined.count(name)) continue;  // "": an absent optional input
        auto p = producer.find(name);
        if (p != producer.end()) {
          fail(node, fmt::format("input '{}' is computed by a later node ('{}'): ONNX nodes must "
                                 "be in topological order, and a graph with a cycle has none",
                                 name, g.node(p->second).name()));
        }
        fail(node, "input '" + name +
                       "' is not a graph input, an initializer or the output of an earlier node");
      }
      for (const auto& o : node.output()) defined.insert(o);
    }
  }

  // The shape of a value shape inference (or the file) describes, if any.
  void shape_info(const onnx::ValueInfoProto& vi) {
    if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape()) {
      shapes_[vi.name()] = dims(vi, vi.name());
    }
  }

  // Every node's operand counts, before shape inference or pattern
  // matching index them; an op without a lowering is refused here.
  void operands(const onnx::NodeProto& node) const {
    struct Arity {
      int min_in, max_in, min_out, max_out;
    };
    static const std::map<std::string, Arity> arity = {
        {"Add", {2, 2, 1, 1}},        {"Sub", {2, 2, 1, 1}},
        {"Mul", {2, 2, 1, 1}},        {"Div", {2, 2, 1, 1}},
        {"Pow", {2, 2, 1, 1}},        {"Sqrt", {1, 1, 1, 1}},
        {"Erf", {1, 1, 1, 1}},        {"Tanh", {1, 1, 1, 1}},
        {"Sigmoid", {1, 1, 1, 1}},    {"Relu", {1, 1, 1, 1}},
        {"Exp", {1, 1, 1, 1}},        {"Neg", {1, 1, 1, 1}},
        {"Transpose", {1, 1, 1, 1}},  {"Constant", {0, 0, 1, 1}},
        {"Identity", {1, 1, 1, 1}},   {"Reshape", {1, 2, 1, 1}},
        {"Squeeze", {1, 2, 1, 1}},    {"Unsqueeze", {1, 2, 1, 1}},
        {"Flatten", {1, 1, 1, 1}},    {"MatMul", {2, 2, 1, 1}},
        {"Gemm", {2, 3, 1, 1}},       {"Softmax", {1, 1, 1, 1}},
        {"ReduceMean", {1, 2, 1, 1}}, {"LayerNormalization", {2, 3, 1, 3}},
        {"Split", {1, 2, 1, 4096}},   {"Concat", {1, 4096, 1, 1}},
        {"Gather", {2, 2, 1, 1}},
    };
    auto it = arity.find(node.op_type());
    if (it == arity.end() || !node.domain().empty()) {
      fail(node,
           "this op has no lowering in npusim (supported, in the default domain: MatMul, Gemm, "
           "Add, Sub, Mul, Div, Pow, Sqrt, Erf, Tanh, Sigmoid, Relu, Exp, Neg, ReduceMean, "
           "Softmax, LayerNormalization, Transpose, Reshape, Squeeze, Unsqueeze, Flatten, Split, "
           "Concat, Gather, Constant, Identity)");
    }
    const Arity& a = it->second;
    if (node.input_size() < a.min_in || node.input_size() > a.max_in ||
        node.output_size() < a.min_out || node.output_size() > a.max_out) {
      fail(node,
           fmt::format("takes {} to {} inputs and {} to {} outputs, not {} and {}", a.min_in,
                       a.max_in, a.min_out, a.max_out, node.input_size(), node.output_size()));
    }
    for (const auto& name : node.output()) {
      if (name.empty()) fail(node, "an output has no name");
    }
  }

  // The data of an INT64 tensor, from int64_data or (as PyTorch writes it)
  // raw_data; empty for other types.
  static std::vector<int64_t> int64s(const onnx::TensorProto& t) {
    if (t.data_type() != onnx::TensorProto::INT64) return {};
    std::vector<int64_t> out(t.int64_data().begin(), t.int64_data().end());
    if (out.empty() && !t.raw_data().empty()) {
      out.resize(t.raw_data().size() / 8);
      std::memcpy(out.data(), t.raw_data().data(), out.size() * 8);
    }
    return out;
  }

  // Value of a one-element float tensor, if `t` is one.
  static std::optional<double> float_scalar(const onnx::TensorProto& t) {
    const std::optional<uint64_t> n = checked_product(t.dims());
    if (n != uint64_t{1} || t.data_type() != onnx::TensorProto::FLOAT) return std::nullopt;
    if (t.float_data_size() == 1) return t.float_data(0);
    if (t.raw_data().size() == 4) {
      float v = 0;
      std::memcpy(&v, t.raw_data().data(), 4);
      return v;
    }
    return std::nullopt;
  }

  // PyTorch exports GELU and SiLU as elementwise arithmetic around an Erf,
  // Tanh or Sigmoid. Each such pattern (whose intermediate values have no
  // other use) becomes one GELU_OP or SILU_OP, as the hardware's vector
  // unit computes it in one pass:
  //   SiLU:       x * Sigmoid(x)
  //   GELU (erf): x * (Erf(x / sqrt 2) + 1) * 0.5   (or x * 0.5 first)
  //   GELU (tanh, GPT-2's gelu_new):
  //               x * 0.5 * (Tanh((x + Pow(x, 3) * 0.044715) * sqrt(2/pi)) + 1)
  void find_activation_patterns(const onnx::GraphProto& g) {
    for (int i = 0; i < g.node_size(); ++i) {
      for (const auto& o : g.node(i).output()) producer_[o] = i;
      for (const auto& in : g.node(i).input()) {
        ++uses_[in];
        consumer_[in] = i;
      }
      if (g.node(i).op_type() == "Constant") {
        for (const auto& a : g.node(i).attribute()) {
          if (a.has_t()) {
            if (auto v = float_scalar(a.t())) scalars_[g.node(i).output(0)] = *v;
          }
        }
      }
    }
    for (const auto& o : g.output()) ++uses_[o.name()];
    for (const auto& t : g.initializer()) {
      if (auto v = float_scalar(t)) scalars_[t.name()] = *v;
    }
    for (int i = 0; i < g.node_size(); ++i) {
      const std::string& op = g.node(i).op_type();
      if (op == "Sigmoid") match_silu(g, i);
      if (op == "Erf" || op == "Tanh") match_gelu(g, i);
    }
  }

  [[nodiscard]] bool near(const std::string& name, double want) const {
    auto it = scalars_.find(name);
    return it != scalars_.end() && std::abs(it->second - want) <= 1e-3 * std::abs(want);
  }
  // The node producing `name` if it is an `op` whose output has one use.
  const onnx::NodeProto* only(const onnx::GraphProto& g, const std::string& name,
                              const std::string& op) const {
    auto it = producer_.find(name);
    if (it == producer_.end() || uses_.at(name) != 1) return nullptr;
    const onnx::NodeProto& n = g.node(it->second);
    return n.op_type() == op && n.input_size() == 2 ? &n : nullptr;
  }
  // The one node consuming `name` (an `op` with two inputs), and its other input.
  std::pair<int, std::string> user(const onnx::GraphProto& g, const std::string& name,
                                   const std::string& op) const {
    auto u = uses_.find(name);
    if (u == uses_.end() || u->second != 1 || !consumer_.count(name)) return {-1, ""};
    const int i = consumer_.at(name);
    const onnx::NodeProto& n = g.node(i);
    if (n.op_type() != op || n.input_size() != 2) return {-1, ""};
    const std::string second = other(n, name);
    return second.empty() ? std::pair<int, std::string>{-1, ""} : std::pair{i, second};
  }
  // The other input of binary `n` when one of them is `name`, else "".
  static std::string other(const onnx::NodeProto& n, const std::string& name) {
    if (n.input(0) == name) return n.input(1);
    if (n.input(1) == name) return n.input(0);
    return "";
  }
  // Index of a node found by only() (the producer of its output).
  [[nodiscard]] int index(const onnx::NodeProto* n) const { return producer_.at(n->output(0)); }
  void fuse(std::vector<int> members, OpType op, const std::string& x) {
    std::sort(members.begin(), members.end());
    for (int m : members) {
      if (absorbed_.count(m) || fused_.count(m)) return;  // overlaps another pattern
    }
    fused_[members.back()] = {op, x};
    members.pop_back();
    absorbed_.insert(members.begin(), members.end());
  }

  void match_silu(const onnx::GraphProto& g, int sig) {
    const std::string& x = g.node(sig).input(0);
    auto [mul, second] = user(g, g.node(sig).output(0), "Mul");
    if (mul >= 0 && second == x) fuse({sig, mul}, SILU_OP, x);
  }

  void match_gelu(const onnx::GraphProto& g, int f) {
    const onnx::NodeProto& fn = g.node(f);
    std::vector<int> members{f};
    std::string x;
    if (fn.op_type() == "Erf") {  // Erf(x / sqrt 2) or Erf(x * (1 / sqrt 2))
      const onnx::NodeProto* div = only(g, fn.input(0), "Div");
      const onnx::NodeProto* mul = only(g, fn.input(0), "Mul");
      if (div != nullptr && near(div->input(1), std::sqrt(2.0))) {
        x = div->input(0);
        members.push_back(index(div));
      } else if (mul != nullptr) {
        for (int k = 0; k < 2; ++k) {
          if (near(mul->input(1 - k), 1.0 / std::sqrt(2.0))) x = mul->input(k);
        }
        members.push_back(index(mul));
      }
    } else {  // Tanh(s), s = (x + Pow(x, 3) * 0.044715) * sqrt(2/pi)
      const onnx::NodeProto* s = only(g, fn.input(0), "Mul");
      if (s == nullptr) return;
      std::string r;
      for (int k = 0; k < 2; ++k) {
        if (near(s->input(1 - k), std::sqrt(2.0 / M_PI))) r = s->input(k);
      }
      const onnx::NodeProto* add = only(g, r, "Add");
      if (add == nullptr) return;
      for (int k = 0; k < 2 && x.empty(); ++k) {
        const onnx::NodeProto* cube_mul = only(g, add->input(1 - k), "Mul");
        if (cube_mul == nullptr) continue;
        for (int j = 0; j < 2; ++j) {
          if (!near(cube_mul->input(1 - j), 0.044715)) continue;
          const onnx::NodeProto* pow = only(g, cube_mul->input(j), "Pow");
          if (pow != nullptr && pow->input(0) == add->input(k) && near(pow->input(1), 3.0)) {
            x = add->input(k);
            members.insert(members.end(), {index(s), index(add), index(cube_mul), index(pow)});
          }
        }
      }
    }
    if (x.empty()) return;
    // ... + 1, then times x and 0.5 in either order.
    auto [plus, one] = user(g, fn.output(0), "Add");
    if (plus < 0 || !near(one, 1.0)) return;
    members.push_back(plus);
    auto [m1, m1_other] = user(g, g.node(plus).output(0), "Mul");
    if (m1 < 0) return;
    members.push_back(m1);
    if (m1_other == x) {  // (x * (1 + f)) * 0.5
      auto [m2, half] = user(g, g.node(m1).output(0), "Mul");
      if (m2 < 0 || !near(half, 0.5)) return;
      members.push_back(m2);
    } else {  // (x * 0.5) * (1 + f)
      const onnx::NodeProto* xh = only(g, m1_other, "Mul");
      if (xh == nullptr || other(*xh, x).empty() || !near(other(*xh, x), 0.5)) return;
      members.push_back(index(xh));
    }
    fuse(members, GELU_OP, x);
  }

  void initializer(const onnx::TensorProto& t) {
    Dims shape(t.dims().begin(), t.dims().end());
    const bool integer =
        t.data_type() == onnx::TensorProto::INT64 || t.data_type() == onnx::TensorProto::INT32;
    if (integer || count(shape, t.name()) <= 1) {  // shapes, axes and scalars: folded constants
      Value v{Kind::Constant, "", shape, {}};
      v.ints = int64s(t);
      known_[t.name()] = v;
      return;
    }
    const DType dt = shape.size() >= 2 ? shape_.weight_dtype : shape_.activation_dtype;
    add_tensor(graph_, t.name(), shape, dt, WEIGHT, true);
    known_[t.name()] = {Kind::Parameter, t.name(), shape, {}};
  }

  const Value& value(const onnx::NodeProto& node, const std::string& name) {
    auto it = known_.find(name);
    if (it == known_.end()) {
      auto p = producer_.find(name);
      if (p != producer_.end()) {
        fail(node, fmt::format("input '{}' is computed by a later node (#{}): ONNX nodes must be "
                               "in topological order, and a graph with a cycle has none",
                               name, p->second));
      }
      fail(node, "input '" + name +
                     "' is not a graph input, an initializer or the output of an earlier node");
    }
    return it->second;
  }

  Dims shape_of(const onnx::NodeProto& node, const std::string& name) {
    auto it = shapes_.find(name);
    if (it == shapes_.end()) {
      fail(node, "shape inference gave no shape for '" + name +
                     "' (its inputs' shapes may not fit the op, or depend on values known only "
                     "at run time)");
    }
    if (it->second.empty()) {
      fail(node, "'" + name + "' is a scalar (rank 0); npusim computes tensors of rank >= 1");
    }
    return it->second;
  }

  std::string activation(const std::string& name, const std::string& onnx_name,
                         const std::string& alias = "") {
    if (shapes_.at(onnx_name).empty()) {
      throw UserError(
          fmt::format("{}: value '{}' is a scalar (rank 0); npusim computes tensors of rank >= 1",
                      path_, onnx_name));
    }
    Tensor& t =
        add_tensor(graph_, name, shapes_.at(onnx_name), shape_.activation_dtype, ACTIVATION, false);
    if (!alias.empty()) t.set_alias_of(alias);
    known_[onnx_name] = {Kind::Activation, name, shapes_.at(onnx_name), {}};
    return name;
  }

  std::string out(const onnx::NodeProto& node, int i = 0) {
    shape_of(node, node.output(i));
    return activation(node.output(i), node.output(i));
  }

  Node& emit(const onnx::NodeProto& node, OpType op, std::vector<std::string> in,
             std::vector<std::string> outs, const std::string& suffix = "") {
    return add_node(graph_, (node.name().empty() ? node.output(0) : node.name()) + suffix, op,
                    std::move(in), std::move(outs));
  }

  int64_t int_attr(const onnx::NodeProto& node, const std::string& key, int64_t fallback) const {
    for (const auto& a : node.attribute()) {
      if (a.name() == key) return a.i();
    }
    return fallback;
  }

  double real_attr(const onnx::NodeProto& node, const std::string& key, double fallback) const {
    for (const auto& a : node.attribute()) {
      if (a.name() == key) return a.f();
    }
    return fallback;
  }

  // The axis attribute (or `fallback`) must be the last one.
  void require_last_axis(const onnx::NodeProto& node, int64_t axis, size_t rank) {
    if (axis != -1 && axis != static_cast<int64_t>(rank) - 1) {
      fail(node,
           fmt::format("axis {} of a rank-{} tensor: only the last axis is supported", axis, rank));
    }
  }

  void elementwise(const onnx::NodeProto& node, VectorKind kind) {
    const std::string& y = out(node);
    std::vector<std::string> ins;
    const Value* act = nullptr;
    const Value* other = nullptr;
    for (const auto& name : node.input()) {
      const Value& v = value(node, name);
      if (v.kind == Kind::Activation && act == nullptr) {
        act = &v;
      } else {
        other = &v;
      }
    }
    if (act == nullptr) fail(node, "needs an activation operand");
    ins.push_back(act->tensor);
    if (other != nullptr && other->kind != Kind::Constant) {
      const uint64_t n = count(other->shape, other->tensor);
      if (n != count(act->shape, act->tensor) && n != static_cast<uint64_t>(act->shape.back())) {
        fail(node, fmt::format("broadcasting {} elements over '{}' is not supported (same size, "
                               "one row, or a scalar)",
                               n, act->tensor));
      }
      ins.push_back(other->tensor);
    }
    Node& n = emit(node, ELEMENTWISE, ins, {y});
    set_attr(n, "kind", VectorKind_Name(kind));
  }

  void lower(const onnx::NodeProto& node) {
    static const std::map<std::string, VectorKind> binary = {
        {"Add", ADD}, {"Sub", SUB}, {"Mul", MUL}, {"Div", DIV}, {"Pow", POW}};
    static const std::map<std::string, VectorKind> unary = {
        {"Sqrt", SQRT}, {"Erf", ERF}, {"Tanh", TANH}, {"Sigmoid", SIGMOID},
        {"Relu", RELU}, {"Exp", EXP}, {"Neg", MUL},   {"Transpose", COPY}};
    const std::string& op = node.op_type();
    if (auto it = binary.find(op); it != binary.end()) return elementwise(node, it->second);
    if (auto it = unary.find(op); it != unary.end()) return elementwise(node, it->second);
    if (op == "Constant") {
      Value v{Kind::Constant, "", {}, {}};
      for (const auto& a : node.attribute()) {
        if (a.has_t()) {
          v.shape.assign(a.t().dims().begin(), a.t().dims().end());
          v.ints = int64s(a.t());
        }
      }
      known_[node.output(0)] = v;
      return;
    }
    if (op == "Identity" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" ||
        op == "Flatten") {
      const Value& in = value(node, node.input(0));
      if (in.kind != Kind::Activation) fail(node, "reshaping a weight is not supported");
      const Dims& to = shape_of(node, node.output(0));
      if (count(to, node.output(0)) != count(in.shape, node.input(0))) {
        fail(node, fmt::format("'{}' [{}] and '{}' [{}] differ in size", node.input(0),
                               fmt::join(in.shape, ", "), node.output(0), fmt::join(to, ", ")));
      }
      activation(node.output(0), node.output(0), in.tensor);  // a view: same bytes
      return;
    }
    if (op == "MatMul" || op == "Gemm") {
      const Value& a = value(node, node.input(0));
      const Value& b = value(node, node.input(1));
      if (a.kind != Kind::Activation) fail(node, "the first operand must be computed");
      if (op == "Gemm" && int_attr(node, "transA", 0) != 0) fail(node, "transA is not supported");
      const bool bias = op == "Gemm" && node.input_size() == 3 && !node.input(2).empty();
      std::string y = out(node);
      if (b.kind == Kind::Parameter) {
        if (b.shape.size() != 2) fail(node, "the weight must be 2-D");
        const std::string raw = bias ? y + ".raw" : y;
        if (bias)
          add_tensor(graph_, raw, shapes_.at(node.output(0)), shape_.activation_dtype, ACTIVATION,
                     false);
        Node& n = emit(node, MATMUL, {a.tensor, b.tensor}, {raw});
        if (op == "Gemm" && int_attr(node, "transB", 0) != 0) set_attr(n, "weight_transposed", 1);
        if (bias) {
          const Value& c = value(node, node.input(2));
          emit(node, BIAS_ADD, {raw, c.tensor}, {y}, ".bias_add");
        }
      } else if (b.kind == Kind::Activation) {
        if (bias) fail(node, "Gemm of two computed operands with a bias is not supported");
        emit(node, BATCH_MATMUL, {a.tensor, b.tensor}, {y});
      } else {
        fail(node, "the second operand is a constant");
      }
      return;
    }
    if (op == "Softmax") {
      const Value& x = value(node, node.input(0));
      require_last_axis(node, int_attr(node, "axis", -1), x.shape.size());
      emit(node, SOFTMAX_OP, {x.tensor}, {out(node)});
      return;
    }
    if (op == "ReduceMean") {
      const Value& x = value(node, node.input(0));
      int64_t axis = -1;
      for (const auto& a : node.attribute()) {
        if (a.name() == "axes" && a.ints_size() == 1) axis = a.ints(0);
      }
      if (node.input_size() == 2) {
        const Value& axes = value(node, node.input(1));
        if (axes.ints.size() == 1) axis = axes.ints[0];
      }
      require_last_axis(node, axis, x.shape.size());
      emit(node, REDUCE_MEAN_OP, {x.tensor}, {out(node)});
      return;
    }
    if (op == "LayerNormalization") {
      const Value& x = value(node, node.input(0));
      require_last_axis(node, int_attr(node, "axis", -1), x.shape.size());
      if (node.input_size() != 3) fail(node, "needs scale and bias");
      const double eps = real_attr(node, "epsilon", 1e-5);  // the ONNX default
      if (!(eps >= 0 && eps <= 1))
        fail(node, fmt::format("epsilon {:g}: must be between 0 and 1", eps));
      set_attr_real(
          emit(node, LAYER_NORM,
               {x.tensor, value(node, node.input(1)).tensor, value(node, node.input(2)).tensor},
               {out(node)}),
          "eps", eps);
      return;
    }
    if (op == "Split") {
      const Value& x = value(node, node.input(0));
      require_last_axis(node, int_attr(node, "axis", 0), x.shape.size());
      int64_t offset = 0;
      for (int i = 0; i < node.output_size(); ++i) {
        const std::string y = out(node, i);
        Node& n = emit(node, SLICE, {x.tensor}, {y}, fmt::format(".{}", i));
        set_attr(n, "offset", offset);
        offset += shapes_.at(node.output(i)).back();
      }
      return;
    }
    if (op == "Concat") {
      std::vector<std::string> ins;
      for (const auto& name : node.input()) {
        const Value& v = value(node, name);
        if (v.kind != Kind::Activation) fail(node, "every input must be computed");
        ins.push_back(v.tensor);
      }
      require_last_axis(node, int_attr(node, "axis", -1), shape_of(node, node.output(0)).size());
      emit(node, CONCAT, ins, {out(node)});
      return;
    }
    if (op == "Gather") {
      const Value& table = value(node, node.input(0));
      if (table.kind != Kind::Parameter || table.shape.size() != 2 ||
          int_attr(node, "axis", 0) != 0) {
        fail(node, "only an embedding lookup (rows of a 2-D weight) is supported");
      }
      set_attr(emit(node, EMBEDDING, {table.tensor}, {out(node)}), "seed",
               static_cast<int64_t>(shape_.seed));
      return;
    }
    fail(node,
         "this op has no lowering in npusim (supported: MatMul, Gemm, Add, Sub, Mul, Div, "
         "Pow, Sqrt, Erf, Tanh, Sigmoid, Relu, Exp, Neg, ReduceMean, Softmax, "
         "LayerNormalization, Transpose, Reshape, Squeeze, Unsqueeze, Flatten, Split, "
         "Concat, Gather, Constant, Identity)");
  }

  std::string path_;
  DecodeShape shape_;
  Graph graph_;
  std::unordered_map<std::string, Dims> shapes_;
  std::unordered_map<std::string, Value> known_;
  // Activation patterns: the last node of each, and the nodes it absorbs.
  struct Fused {
    OpType op;
    std::string input;
  };
  std::map<int, Fused> fused_;
  std::set<int> absorbed_;
  std::unordered_map<std::string, int> producer_;  // value -> node index
  std::unordered_map<std::string, int> uses_;      // value -> consumers (graph outputs count)
  std::unordered_map<std::string, int>
      consumer_;  // value -> a node consuming it (the one when uses_ is 1)
  std::unordered_map<std::string, double> scalars_;
};

}  // namespace

Graph import_onnx(const std::string& path, const DecodeShape& shape) {
  onnx::ModelProto model;
  if (!model.ParseFromString(read_file(path))) {
    throw UserError(path + ": not a valid ONNX model (truncated or corrupt protobuf)");
  }
  return Importer(path, shape).run(model);
}

}  // namespace npusim::compiler

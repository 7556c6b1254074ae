#include "compiler/frontends/onnx_import.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <unordered_map>

#include "common/error.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {
namespace {

class Importer {
 public:
  Importer(const std::string& path, const DecodeShape& shape) : path_(path), shape_(shape) {}

  Graph run(onnx::ModelProto& model) {
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      throw UserError(fmt::format("{}: ONNX shape inference failed: {}", path_, e.what()));
    }
    const onnx::GraphProto& g = model.graph();
    graph_.set_name(g.name().empty() ? path_ : g.name());
    for (const auto& vi : g.value_info()) shapes_[vi.name()] = dims(vi, vi.name());
    for (const auto& vi : g.output()) shapes_[vi.name()] = dims(vi, vi.name());
    for (const auto& init : g.initializer()) initializer(init);
    for (const auto& in : g.input()) {
      if (known_.count(in.name())) continue;  // an initializer listed as input
      shapes_[in.name()] = dims(in, in.name());
      activation(in.name(), in.name());
    }
    for (const auto& node : g.node()) lower(node);
    return std::move(graph_);
  }

 private:
  using Dims = std::vector<int64_t>;
  enum class Kind { Activation, Parameter, Constant };
  struct Value {
    Kind kind;
    std::string tensor;  // graph tensor name (activations and parameters)
    Dims shape;
    std::vector<int64_t> ints;  // constant integer data (Reshape shapes, Split sizes)
  };

  [[noreturn]] void fail(const onnx::NodeProto& node, const std::string& what) const {
    throw UserError(
        fmt::format("{}: node '{}' ({}): {}", path_, node.name(), node.op_type(), what));
  }

  Dims dims(const onnx::ValueInfoProto& vi, const std::string& name) const {
    Dims out;
    if (!vi.type().has_tensor_type()) return out;
    for (const auto& d : vi.type().tensor_type().shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() <= 0) {
        throw UserError(fmt::format(
            "{}: value '{}' has a dynamic dimension '{}'; npusim needs static shapes (export "
            "with fixed sizes)",
            path_, name, d.dim_param()));
      }
      out.push_back(d.dim_value());
    }
    return out;
  }

  static uint64_t count(const Dims& d) {
    uint64_t n = 1;
    for (int64_t v : d) n *= static_cast<uint64_t>(v);
    return n;
  }

  void initializer(const onnx::TensorProto& t) {
    Dims shape(t.dims().begin(), t.dims().end());
    const bool integer =
        t.data_type() == onnx::TensorProto::INT64 || t.data_type() == onnx::TensorProto::INT32;
    if (integer || count(shape) <= 1) {  // shapes, axes and scalars: folded constants
      Value v{Kind::Constant, "", shape, {}};
      if (t.data_type() == onnx::TensorProto::INT64) {
        v.ints.assign(t.int64_data().begin(), t.int64_data().end());
        if (v.ints.empty() && !t.raw_data().empty()) {
          v.ints.resize(t.raw_data().size() / 8);
          std::memcpy(v.ints.data(), t.raw_data().data(), v.ints.size() * 8);
        }
      }
      known_[t.name()] = v;
      return;
    }
    const DType dt = shape.size() >= 2 ? shape_.weight_dtype : shape_.activation_dtype;
    add_tensor(graph_, t.name(), shape, dt, WEIGHT, true);
    known_[t.name()] = {Kind::Parameter, t.name(), shape, {}};
  }

  const Value& value(const onnx::NodeProto& node, const std::string& name) {
    auto it = known_.find(name);
    if (it == known_.end()) fail(node, "input '" + name + "' is not produced before use");
    return it->second;
  }

  Dims shape_of(const onnx::NodeProto& node, const std::string& name) {
    auto it = shapes_.find(name);
    if (it == shapes_.end()) fail(node, "shape inference gave no shape for '" + name + "'");
    return it->second;
  }

  std::string activation(const std::string& name, const std::string& onnx_name,
                         const std::string& alias = "") {
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
      const uint64_t n = count(other->shape);
      if (n != count(act->shape) && n != static_cast<uint64_t>(act->shape.back())) {
        fail(node, fmt::format("broadcasting {} elements over '{}' is not supported (same size, "
                               "one row, or a scalar)",
                               n, act->tensor));
      }
      ins.push_back(other->tensor);
    }
    Node& n = emit(node, ELEMENTWISE, ins, {y});
    (*n.mutable_attrs())["kind"].set_s(VectorKind_Name(kind));
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
          v.ints.assign(a.t().int64_data().begin(), a.t().int64_data().end());
        }
      }
      known_[node.output(0)] = v;
      return;
    }
    if (op == "Identity" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" ||
        op == "Flatten") {
      const Value& in = value(node, node.input(0));
      if (in.kind != Kind::Activation) fail(node, "reshaping a weight is not supported");
      shape_of(node, node.output(0));
      activation(node.output(0), node.output(0), in.tensor);  // a view: same bytes
      return;
    }
    if (op == "MatMul" || op == "Gemm") {
      const Value& a = value(node, node.input(0));
      const Value& b = value(node, node.input(1));
      if (a.kind != Kind::Activation) fail(node, "the first operand must be computed");
      if (op == "Gemm" && int_attr(node, "transA", 0) != 0) fail(node, "transA is not supported");
      const bool bias = op == "Gemm" && node.input_size() == 3;
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
      emit(node, LAYER_NORM,
           {x.tensor, value(node, node.input(1)).tensor, value(node, node.input(2)).tensor},
           {out(node)});
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
};

}  // namespace

Graph import_onnx(const std::string& path, const DecodeShape& shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open file");
  std::stringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes.str())) {
    throw UserError(path + ": not a valid ONNX model (truncated or corrupt protobuf)");
  }
  return Importer(path, shape).run(model);
}

}  // namespace npusim::compiler

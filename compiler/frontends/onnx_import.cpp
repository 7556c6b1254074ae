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
#include "compiler/frontends/onnx_constant.h"
#include "compiler/graph_check.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {
namespace {

const std::string kSupported =
    "MatMul, Gemm, Add, Sub, Mul, Div, Pow, Sqrt, Erf, Tanh, Sigmoid, Relu, Exp, Neg, "
    "ReduceMean, Softmax, LayerNormalization, Transpose, Reshape, Squeeze, Unsqueeze, Flatten, "
    "Split, Concat, Gather, Constant, Identity, Cast, Where, Expand, Max, Slice; evaluated at "
    "import on constants: ConstantOfShape, Shape, Equal, Less, Greater, LessOrEqual, "
    "GreaterOrEqual, And, Or, Not, Min, CumSum, Trilu, Cos, Sin, Range, Reciprocal";

// A value below this is a masked score: exp(v - max) is 0 in fp32 for
// every finite max (PyTorch masks with finfo(float32).min or -inf).
constexpr double kMasked = -1e30;

class Importer {
 public:
  Importer(const std::string& path, const DecodeShape& shape, const OnnxInputs& inputs)
      : path_(path), shape_(shape), inputs_(inputs) {}

  [[nodiscard]] std::map<std::string, std::vector<float>> weight_values() const {
    std::map<std::string, std::vector<float>> out;
    for (const auto& [name, w] : weights_) {
      if (w.name != name) continue;  // tied: the other's values
      auto c = consts_.find(name);
      if (c == consts_.end()) continue;  // no data in the file
      out[name].assign(c->second.values.begin(), c->second.values.end());
    }
    return out;
  }
  [[nodiscard]] const std::set<std::string>& fixed_inputs() const { return given_; }

  Graph run(onnx::ModelProto& model) {
    opset(model);
    validate(model.graph());
    for (const auto& [name, given] : inputs_) given_input(model.graph(), name, given);
    fold_constants(model);
    const onnx::GraphProto& g = model.graph();
    graph_.set_name(g.name().empty() ? path_ : g.name());
    for (const auto& vi : g.value_info()) shape_info(vi);
    for (const auto& vi : g.output()) shape_info(vi);
    for (const auto& in : g.input()) {
      if (original_.count(in.name()) || given_.count(in.name())) continue;  // an initializer
      if (!in.type().tensor_type().has_shape()) {
        throw UserError(fmt::format(
            "{}: input '{}' has no shape; npusim needs static shapes (export with fixed sizes)",
            path_, in.name()));
      }
      shapes_[in.name()] = dims(in, in.name());
      activation(in.name(), in.name());
      if (in.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT &&
          in.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT16 &&
          in.type().tensor_type().elem_type() != onnx::TensorProto::BFLOAT16 &&
          in.type().tensor_type().elem_type() != onnx::TensorProto::DOUBLE) {
        integer_inputs_.insert(in.name());
        integer_source_[in.name()] = in.name();
      }
    }
    find_activation_patterns(g);
    for (int i = 0; i < g.node_size(); ++i) {
      if (auto it = fused_.find(i); it != fused_.end()) {
        // The last node of a pattern: one op for all its nodes.
        const onnx::NodeProto& last = g.node(i);
        const Fused& f = it->second;
        const Value& x = value(last, f.input);
        if (x.kind != Kind::Activation) fail(last, "the pattern's input must be computed");
        std::vector<std::string> ins{x.tensor};
        for (const auto& p : f.params) ins.push_back(weight(last, p).name);
        Node& n = emit(last, f.op, ins, {out(last)});
        for (const auto& [k, v] : f.ints) set_attr(n, k, v);
        for (const auto& [k, v] : f.reals) set_attr_real(n, k, v);
        for (const auto& [k, v] : f.strings) set_attr(n, k, v);
      } else if (!absorbed_.count(i)) {
        lower(g.node(i));
      }
    }
    check_graph(graph_, path_);
    return std::move(graph_);
  }

 private:
  using Dims = std::vector<int64_t>;
  enum class Kind { Activation, Constant };
  struct Value {
    Kind kind;
    std::string tensor;  // graph tensor name (activations)
    Dims shape;
    // Activations: the scores of a causal mask (Where or an additive
    // mask) that the Softmax they feed applies; 0: none.
    int64_t causal_tokens = 0;
  };
  // A materialised weight: its graph tensor, and whether the ONNX value is
  // its transpose (a tied head, or a Transpose folded at import).
  struct Weight {
    std::string name;
    bool transposed = false;
  };

  // A pattern of nodes lowered as one op: its op, input, weights and attrs.
  struct Fused {
    OpType op;
    std::string input;
    std::vector<std::string> params;  // weights after the input
    std::map<std::string, int64_t> ints;
    std::map<std::string, double> reals;
    std::map<std::string, std::string> strings;
  };

  [[noreturn]] void fail(const onnx::NodeProto& node, const std::string& what) const {
    throw UserError(
        fmt::format("{}: node '{}' ({}): {}{}", path_, node.name(), node.op_type(), what, hint_));
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

  // A shape shape inference gave with every dimension known, if it did.
  static std::optional<Dims> static_dims(const onnx::ValueInfoProto& vi) {
    if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return std::nullopt;
    Dims out;
    for (const auto& d : vi.type().tensor_type().shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() < 0) return std::nullopt;
      out.push_back(d.dim_value());
    }
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
  void opset(const onnx::ModelProto& model) {
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
      opset_ = o.version();
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
        {"Add", {2, 2, 1, 1}},
        {"Sub", {2, 2, 1, 1}},
        {"Mul", {2, 2, 1, 1}},
        {"Div", {2, 2, 1, 1}},
        {"Pow", {2, 2, 1, 1}},
        {"Sqrt", {1, 1, 1, 1}},
        {"Erf", {1, 1, 1, 1}},
        {"Tanh", {1, 1, 1, 1}},
        {"Sigmoid", {1, 1, 1, 1}},
        {"Relu", {1, 1, 1, 1}},
        {"Exp", {1, 1, 1, 1}},
        {"Neg", {1, 1, 1, 1}},
        {"Transpose", {1, 1, 1, 1}},
        {"Constant", {0, 0, 1, 1}},
        {"Identity", {1, 1, 1, 1}},
        {"Reshape", {1, 2, 1, 1}},
        {"Squeeze", {1, 2, 1, 1}},
        {"Unsqueeze", {1, 2, 1, 1}},
        {"Flatten", {1, 1, 1, 1}},
        {"MatMul", {2, 2, 1, 1}},
        {"Gemm", {2, 3, 1, 1}},
        {"Softmax", {1, 1, 1, 1}},
        {"ReduceMean", {1, 2, 1, 1}},
        {"LayerNormalization", {2, 3, 1, 3}},
        {"Split", {1, 2, 1, 4096}},
        {"Concat", {1, 4096, 1, 1}},
        {"Gather", {2, 2, 1, 1}},
        {"Cast", {1, 1, 1, 1}},
        {"Where", {3, 3, 1, 1}},
        {"ConstantOfShape", {1, 1, 1, 1}},
        {"Equal", {2, 2, 1, 1}},
        {"Less", {2, 2, 1, 1}},
        {"Greater", {2, 2, 1, 1}},
        {"LessOrEqual", {2, 2, 1, 1}},
        {"GreaterOrEqual", {2, 2, 1, 1}},
        {"And", {2, 2, 1, 1}},
        {"Or", {2, 2, 1, 1}},
        {"Not", {1, 1, 1, 1}},
        {"Expand", {2, 2, 1, 1}},
        {"CumSum", {2, 2, 1, 1}},
        {"Max", {1, 4096, 1, 1}},
        {"Min", {1, 4096, 1, 1}},
        {"Slice", {1, 5, 1, 1}},
        {"Trilu", {1, 2, 1, 1}},
        {"Cos", {1, 1, 1, 1}},
        {"Sin", {1, 1, 1, 1}},
        {"Shape", {1, 1, 1, 1}},
        {"Range", {3, 3, 1, 1}},
        {"Reciprocal", {1, 1, 1, 1}},
    };
    auto it = arity.find(node.op_type());
    if (it == arity.end() || !node.domain().empty()) {
      fail(node, "this op has no lowering in npusim (supported, in the default domain: " +
                     kSupported + ")");
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

  // The values of a graph input given at import (OnnxInputs): a constant
  // from here on, as if the file had it as an initializer.
  void given_input(const onnx::GraphProto& g, const std::string& name, const OnnxInputValues& v) {
    const onnx::ValueInfoProto* info = nullptr;
    for (const auto& in : g.input()) {
      if (in.name() == name) info = &in;
    }
    const std::string where = v.file.empty() ? path_ : v.file;
    if (info == nullptr) {
      throw UserError(
          fmt::format("{}: --input {}: {} has no graph input '{}'", where, name, path_, name));
    }
    using TP = onnx::TensorProto;
    const int32_t type = info->type().tensor_type().elem_type();
    if (type == TP::FLOAT || type == TP::FLOAT16 || type == TP::BFLOAT16 || type == TP::DOUBLE ||
        !needed_at_import(g, name)) {
      return;  // data: functional mode's
    }
    const Dims declared = dims(*info, name);
    if (Dims(v.shape.begin(), v.shape.end()) != declared) {
      throw UserError(fmt::format("{}: --input {}: shape [{}] differs from the input's [{}]", where,
                                  name, fmt::join(v.shape, ", "), fmt::join(declared, ", ")));
    }
    OnnxConstant c;
    c.type = info->type().tensor_type().elem_type();
    c.shape = declared;
    c.values = v.values;
    if (c.values.size() != count(declared, name)) {
      throw UserError(fmt::format("{}: --input {}: {} values for shape [{}]", where, name,
                                  c.values.size(), fmt::join(declared, ", ")));
    }
    consts_[name] = std::move(c);
    given_.insert(name);
  }

  // Whether the graph needs integer input `name`'s values at compile time:
  // as the indices of a Gather (token ids: an embedding's rows), or to
  // compute a Cos or Sin (positions: RoPE tables). Others (an attention
  // mask) stay run-time data.
  static bool needed_at_import(const onnx::GraphProto& g, const std::string& name) {
    std::set<std::string> reached{name};
    for (const auto& node : g.node()) {
      bool reads = false;
      for (int i = 0; i < node.input_size(); ++i) {
        if (!reached.count(node.input(i))) continue;
        if (node.op_type() == "Gather" && i == 1) return true;
        if (node.op_type() == "Cos" || node.op_type() == "Sin") return true;
        reads = true;
      }
      if (reads) reached.insert(node.output().begin(), node.output().end());
    }
    return false;
  }

  // Writes `c` as a TensorProto (an initializer standing for a folded value).
  static onnx::TensorProto tensor_proto(const std::string& name, const OnnxConstant& c) {
    using T = onnx::TensorProto;
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(c.type);
    for (int64_t d : c.shape) t.add_dims(d);
    for (double v : c.values) {
      switch (c.type) {
        case T::FLOAT:
        case T::FLOAT16:
        case T::BFLOAT16:
          t.set_data_type(T::FLOAT);
          t.add_float_data(static_cast<float>(v));
          break;
        case T::DOUBLE:
          t.add_double_data(v);
          break;
        case T::INT64:
          t.add_int64_data(to_int64(v));
          break;
        case T::UINT64:
        case T::UINT32:
          t.add_uint64_data(static_cast<uint64_t>(v));
          break;
        default:
          t.add_int32_data(static_cast<int32_t>(v));
      }
    }
    return t;
  }

  void infer(onnx::ModelProto& model) const {
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      throw UserError(fmt::format("{}: ONNX shape inference failed: {}", path_, e.what()));
    }
  }

  // Evaluates every node whose inputs are all constants (initializers,
  // Constant nodes, inputs given at import, and the Shape of a value with a
  // static shape), and replaces it by an initializer holding its result;
  // then infers shapes again, which the new initializers make static
  // (Reshape, Expand and Slice read their shape operands from them), and
  // repeats while a Shape becomes foldable.
  void fold_constants(onnx::ModelProto& model) {
    for (const auto& t : model.graph().initializer()) {
      original_.insert(t.name());
      init_shapes_[t.name()] = Dims(t.dims().begin(), t.dims().end());
      if (count(Dims(t.dims().begin(), t.dims().end()), t.name()) > kMaxFoldElements) continue;
      try {
        consts_[t.name()] = read_constant(t);
      } catch (const FoldError& e) {
        data_[t.name()] = e.what();  // no usable data: a weight for timing only
      }
    }
    while (true) {
      infer(model);
      std::unordered_map<std::string, Dims> known_shapes;
      const onnx::GraphProto& g = model.graph();
      for (const auto* list : {&g.value_info(), &g.output(), &g.input()}) {
        for (const auto& vi : *list) {
          if (auto d = static_dims(vi)) known_shapes[vi.name()] = *d;
        }
      }
      std::vector<int> folded;
      for (int i = 0; i < g.node_size(); ++i) {
        const onnx::NodeProto& node = g.node(i);
        if (!node.domain().empty() || node.output_size() != 1) continue;
        std::optional<OnnxConstant> result;
        try {
          result = evaluate(node, known_shapes);
        } catch (const FoldError& e) {
          fail(node, e.what());
        }
        if (!result) continue;
        if (node.op_type() == "Gather" && original_.count(node.input(0)) &&
            consts_.at(node.input(0)).shape.size() == 2 && int_attr(node, "axis", 0) == 0) {
          // An embedding lookup at constant positions: still a lookup
          // (EMBEDDING) where the graph uses it as data.
          gathered_[node.output(0)] = {node.input(0), consts_.at(node.input(1))};
        }
        static const std::set<std::string> views = {"Unsqueeze", "Squeeze", "Reshape",
                                                    "Identity",  "Flatten", "Cast"};
        if (views.count(node.op_type()) && gathered_.count(node.input(0))) {
          gathered_[node.output(0)] = gathered_.at(node.input(0));
        }
        consts_[node.output(0)] = std::move(*result);
        folded_.insert(node.output(0));
        folded.push_back(i);
      }
      if (folded.empty()) break;
      // The graph without the folded nodes, their results as initializers.
      onnx::GraphProto* mg = model.mutable_graph();
      std::set<std::string> needed;
      for (int i = 0; i < mg->node_size(); ++i) {
        if (std::binary_search(folded.begin(), folded.end(), i)) continue;
        for (const auto& in : mg->node(i).input()) needed.insert(in);
      }
      for (const auto& o : mg->output()) needed.insert(o.name());
      google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
      for (int i = 0; i < mg->node_size(); ++i) {
        if (!std::binary_search(folded.begin(), folded.end(), i)) *kept.Add() = mg->node(i);
      }
      for (int i : folded) {
        const std::string& name = mg->node(i).output(0);
        if (needed.count(name)) *mg->add_initializer() = tensor_proto(name, consts_.at(name));
      }
      mg->mutable_node()->Swap(&kept);
      mg->clear_value_info();  // inferred again, with the new initializers
    }
    for (const auto& name : given_) {  // given inputs are initializers now
      onnx::GraphProto* mg = model.mutable_graph();
      bool listed = false;
      for (const auto& t : mg->initializer()) listed = listed || t.name() == name;
      if (!listed) *mg->add_initializer() = tensor_proto(name, consts_.at(name));
    }
    infer(model);
  }

  // The constant `node` computes, if its inputs are all constants.
  std::optional<OnnxConstant> evaluate(const onnx::NodeProto& node,
                                       const std::unordered_map<std::string, Dims>& shapes) {
    const std::string& op = node.op_type();
    if (op == "Constant") {
      for (const auto& a : node.attribute()) {
        OnnxConstant c;
        if (a.name() == "value" && a.has_t()) return read_constant(a.t());
        if (a.name() == "value_float") c.values = {a.f()};
        if (a.name() == "value_int") {
          c.type = onnx::TensorProto::INT64;
          c.values = {static_cast<double>(a.i())};
        }
        if (a.name() == "value_floats" || a.name() == "value_ints") {
          c.type = a.name() == "value_ints" ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT;
          if (a.name() == "value_ints") {
            for (int64_t v : a.ints()) c.values.push_back(static_cast<double>(v));
          } else {
            for (float v : a.floats()) c.values.push_back(v);
          }
          c.shape = {static_cast<int64_t>(c.values.size())};
        }
        if (!c.values.empty()) return c;
      }
      fail(node, "has no value npusim reads (value, value_float(s), value_int(s))");
    }
    if (op == "Shape" && !consts_.count(node.input(0))) {
      auto it = shapes.find(node.input(0));
      if (it == shapes.end()) return std::nullopt;
      OnnxConstant x;  // only the shape matters
      x.shape = it->second;
      return fold(node, {&x}, opset_);
    }
    if (!foldable(op)) return std::nullopt;
    std::vector<const OnnxConstant*> in;
    for (const auto& name : node.input()) {
      if (name.empty()) {
        in.push_back(nullptr);
        continue;
      }
      auto it = consts_.find(name);
      if (it == consts_.end()) return std::nullopt;
      in.push_back(&it->second);
    }
    if (in.empty()) return std::nullopt;
    // An embedding lookup of given token ids is computed at run time.
    if (op == "Gather" && original_.count(node.input(0)) && given_.count(node.input(1))) {
      return std::nullopt;
    }
    // A transposed weight stays a weight (MATMUL reads it transposed).
    if (op == "Transpose" && original_.count(node.input(0)) && in[0]->shape.size() == 2) {
      return std::nullopt;
    }
    return fold(node, in, opset_);
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
    }
    for (const auto& o : g.output()) ++uses_[o.name()];
    for (const auto& [name, c] : consts_) {
      if (c.values.size() == 1) scalars_[name] = c.values[0];
    }
    for (int i = 0; i < g.node_size(); ++i) {
      const std::string& op = g.node(i).op_type();
      if (op == "Sigmoid") match_silu(g, i);
      if (op == "Erf" || op == "Tanh") match_gelu(g, i);
      if (op == "ReduceMean") match_norm(g, i);
      if (op == "Add") match_rotary(g, i);
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
  // Fuses `members` into one `op` on `x`; the pattern, or nullptr when it
  // overlaps another.
  Fused* fuse(std::vector<int> members, OpType op, const std::string& x,
              std::vector<std::string> params = {}, std::map<std::string, int64_t> ints = {},
              std::map<std::string, double> reals = {}) {
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    for (int m : members) {
      if (absorbed_.count(m) || fused_.count(m)) return nullptr;  // overlaps another pattern
    }
    Fused& f = fused_[members.back()];
    f = {op, x, std::move(params), std::move(ints), std::move(reals), {}};
    members.pop_back();
    absorbed_.insert(members.begin(), members.end());
    return &f;
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
    // The tanh form stays the tanh form (attrs.approximate), as computed.
    Fused* gelu = fuse(members, GELU_OP, x);
    if (gelu != nullptr && fn.op_type() == "Tanh") gelu->strings["approximate"] = "tanh";
  }

  // The node producing `name`, whatever its arity, if its output has one use.
  const onnx::NodeProto* producer(const onnx::GraphProto& g, const std::string& name,
                                  const std::string& op) const {
    auto it = producer_.find(name);
    if (it == producer_.end() || uses_.count(name) == 0 || uses_.at(name) != 1) return nullptr;
    const onnx::NodeProto& n = g.node(it->second);
    return n.op_type() == op ? &n : nullptr;
  }

  // Norms as PyTorch exports them, each one RMS_NORM or LAYER_NORM:
  //   RMSNorm (Llama, Qwen2): [xc = Cast(x)]; r = 1 / Sqrt(ReduceMean(Pow(xc, 2)) + eps)
  //     (or Div(xc, Sqrt(..)), or Reciprocal); [Cast](xc * r) * gain
  //   LayerNorm decomposed (opset < 17): d = x - ReduceMean(x);
  //     (d / Sqrt(ReduceMean(Pow(d, 2)) + eps)) * gain + bias
  // Anchored at the ReduceMean of the variance.
  void match_norm(const onnx::GraphProto& g, int mean_index) {
    const onnx::NodeProto& mean = g.node(mean_index);
    if (!last_axis_mean(mean)) return;
    const onnx::NodeProto* pow = producer(g, mean.input(0), "Pow");
    if (pow == nullptr || !near(pow->input(1), 2.0)) return;
    std::vector<int> members{mean_index, index(pow)};
    auto [add, eps_name] = user(g, mean.output(0), "Add");
    if (add < 0 || !scalars_.count(eps_name)) return;
    const double eps = scalars_.at(eps_name);
    members.push_back(add);
    const int sqrt = single_user(g.node(add).output(0), "Sqrt", g);
    if (sqrt < 0) return;
    members.push_back(sqrt);
    const std::string& base = pow->input(0);  // xc (RMS) or d (LayerNorm)
    const std::string& s = g.node(sqrt).output(0);
    // base / s, or base * (1 / s)
    std::string normed;
    const int user_of_s = single_user(s, "", g);
    if (user_of_s < 0) return;
    const onnx::NodeProto& u = g.node(user_of_s);
    if (u.op_type() == "Div" && u.input(1) == s && u.input(0) == base) {
      members.push_back(user_of_s);
      normed = u.output(0);
    } else if ((u.op_type() == "Div" && u.input(1) == s && near(u.input(0), 1.0)) ||
               u.op_type() == "Reciprocal") {
      members.push_back(user_of_s);
      auto [mul, other_in] = user(g, u.output(0), "Mul");
      if (mul < 0 || other_in != base) return;
      members.push_back(mul);
      normed = g.node(mul).output(0);
    } else {
      return;
    }
    if (const int cast = single_user(normed, "Cast", g); cast >= 0) {
      members.push_back(cast);
      normed = g.node(cast).output(0);
    }
    auto [gmul, gain] = user(g, normed, "Mul");
    if (gmul < 0 || !is_weight_row(gain)) return;
    members.push_back(gmul);
    std::string x = base;
    const onnx::NodeProto* sub = producer_.count(base) ? &g.node(producer_.at(base)) : nullptr;
    if (sub != nullptr && sub->op_type() == "Sub") {  // LayerNorm: base = x - mean(x)
      const onnx::NodeProto* m = producer(g, sub->input(1), "ReduceMean");
      if (uses_.at(base) != 2 || m == nullptr || m->input(0) != sub->input(0) ||
          !last_axis_mean(*m)) {
        return;
      }
      auto [badd, bias] = user(g, g.node(gmul).output(0), "Add");
      if (badd < 0 || !is_weight_row(bias)) return;
      members.insert(members.end(), {producer_.at(base), index(m), badd});
      fuse(members, LAYER_NORM, sub->input(0), {gain, bias}, {}, {{"eps", eps}});
      return;
    }
    if (sub != nullptr && sub->op_type() == "Cast" && uses_.at(base) == 2) {
      x = sub->input(0);  // RMSNorm's upcast to float32
      members.push_back(producer_.at(base));
    }
    fuse(members, RMS_NORM, x, {gain}, {}, {{"eps", eps}});
  }

  [[nodiscard]] bool last_axis_mean(const onnx::NodeProto& n) const {
    if (int_attr(n, "keepdims", 1) != 1) return false;
    std::vector<int64_t> axes;
    for (const auto& a : n.attribute()) {
      if (a.name() == "axes") axes.assign(a.ints().begin(), a.ints().end());
    }
    if (n.input_size() == 2) {
      auto it = consts_.find(n.input(1));
      if (it == consts_.end()) return false;
      for (double v : it->second.values) axes.push_back(static_cast<int64_t>(v));
    }
    auto s = shapes_.find(n.input(0));
    if (axes.size() != 1 || s == shapes_.end()) return false;
    return axes[0] == -1 || axes[0] == static_cast<int64_t>(s->second.size()) - 1;
  }

  // A 1-D initializer (a norm's gain or bias).
  [[nodiscard]] bool is_weight_row(const std::string& name) const {
    return original_.count(name) && init_shapes_.count(name) && init_shapes_.at(name).size() == 1;
  }

  // The index of the one node reading `name` (of type `op`, any if empty), or -1.
  int single_user(const std::string& name, const std::string& op, const onnx::GraphProto& g) const {
    auto u = uses_.find(name);
    if (u == uses_.end() || u->second != 1 || !consumer_.count(name)) return -1;
    const int i = consumer_.at(name);
    return op.empty() || g.node(i).op_type() == op ? i : -1;
  }

  // RoPE in rotate-half form, as Hugging Face's apply_rotary_pos_emb writes it:
  //   x * cos + Concat(-x[..., h/2:], x[..., :h/2]) * sin
  // with cos and sin constant tables [.., T, h] (computed at import from
  // the positions). It becomes one ROTARY when the tables are exactly
  // cos/sin(p * theta^(-2i/h)) for some theta and positions p = position +
  // t, the same for every sequence; otherwise the arithmetic stays (and a
  // table operand is refused with its node).
  void match_rotary(const onnx::GraphProto& g, int add_index) {
    const onnx::NodeProto& add = g.node(add_index);
    const onnx::NodeProto* m1 = only(g, add.input(0), "Mul");
    const onnx::NodeProto* m2 = only(g, add.input(1), "Mul");
    if (m1 == nullptr || m2 == nullptr) return;
    for (int order = 0; order < 2; ++order) {
      const onnx::NodeProto* a = order == 0 ? m1 : m2;  // x * cos
      const onnx::NodeProto* b = order == 0 ? m2 : m1;  // rotate_half(x) * sin
      for (int k = 0; k < 2; ++k) {
        const std::string &x = a->input(k), &cos = a->input(1 - k);
        if (!consts_.count(cos) || consts_.count(x)) continue;
        for (int j = 0; j < 2; ++j) {
          const std::string &rot = b->input(j), &sin = b->input(1 - j);
          if (!consts_.count(sin)) continue;
          std::vector<int> members{add_index, index(a), index(b)};
          if (!rotate_half(g, rot, x, members)) continue;
          std::optional<Rope> r = rope_of(x, consts_.at(cos), consts_.at(sin));
          if (!r) continue;
          fuse(members, ROTARY, x, {},
               {{"head_dim", r->head_dim}, {"position", r->position}, {"tokens", r->tokens}},
               {{"theta", r->theta}});
          return;
        }
      }
    }
  }

  // Whether `rot` is Concat(Neg(x[..., h/2:]), x[..., :h/2]) on the last
  // axis; adds its nodes to `members`.
  bool rotate_half(const onnx::GraphProto& g, const std::string& rot, const std::string& x,
                   std::vector<int>& members) {
    const onnx::NodeProto* cat = producer(g, rot, "Concat");
    if (cat == nullptr || cat->input_size() != 2 || !shapes_.count(x)) return false;
    const Dims& xs = shapes_.at(x);
    const int64_t h = xs.back();
    const int64_t axis = int_attr(*cat, "axis", 0);
    if (axis != -1 && axis != static_cast<int64_t>(xs.size()) - 1) return false;
    const onnx::NodeProto* neg = producer(g, cat->input(0), "Neg");
    if (neg == nullptr) return false;
    const onnx::NodeProto* hi = producer(g, neg->input(0), "Slice");
    const onnx::NodeProto* lo = producer(g, cat->input(1), "Slice");
    if (hi == nullptr || lo == nullptr || hi->input(0) != x || lo->input(0) != x) return false;
    auto range = [&](const onnx::NodeProto& s) -> std::optional<std::pair<int64_t, int64_t>> {
      if (s.input_size() < 3) return std::nullopt;
      for (int i = 1; i < s.input_size(); ++i) {
        if (!consts_.count(s.input(i)) || consts_.at(s.input(i)).values.size() != 1) {
          return std::nullopt;
        }
      }
      auto v = [&](int i) { return to_int64(consts_.at(s.input(i)).values[0]); };
      if (s.input_size() > 3) {
        const int64_t ax = v(3);
        if (ax != -1 && ax != static_cast<int64_t>(xs.size()) - 1) return std::nullopt;
      }
      if (s.input_size() > 4 && v(4) != 1) return std::nullopt;
      const int64_t b = std::clamp<int64_t>(v(1) < 0 ? v(1) + h : v(1), 0, h);
      const int64_t e = std::clamp<int64_t>(v(2) < 0 ? v(2) + h : v(2), 0, h);
      return std::pair{b, e};
    };
    const auto r_hi = range(*hi), r_lo = range(*lo);
    if (!r_hi || !r_lo || *r_hi != std::pair<int64_t, int64_t>{h / 2, h} ||
        *r_lo != std::pair<int64_t, int64_t>{0, h / 2}) {
      return false;
    }
    members.insert(members.end(), {producer_.at(rot), index(neg), producer_.at(neg->input(0)),
                                   producer_.at(cat->input(1))});
    return true;
  }

  struct Rope {
    int64_t head_dim, position, tokens;
    double theta;
  };
  // theta and positions of RoPE tables cos, sin broadcast over x [.., T, h].
  std::optional<Rope> rope_of(const std::string& x, const OnnxConstant& cos,
                              const OnnxConstant& sin) const {
    const Dims& xs = shapes_.at(x);
    const int64_t h = xs.back(), tokens = xs.size() >= 2 ? xs[xs.size() - 2] : 1;
    if (h < 4 || h % 2 != 0 || cos.shape != sin.shape || cos.shape.size() < 2 ||
        cos.shape.back() != h || cos.shape[cos.shape.size() - 2] != tokens) {
      return std::nullopt;
    }
    const auto half = static_cast<size_t>(h / 2), hs = static_cast<size_t>(h);
    const size_t rows = cos.values.size() / static_cast<size_t>(h);
    // theta from the two lowest frequencies of a row at a position > 0
    // (their angles are small: no wrap), then each row's position.
    double theta = 0;
    for (size_t r = 0; r < rows && theta == 0; ++r) {
      const double a1 = std::atan2(sin.values[r * hs + half - 1], cos.values[r * hs + half - 1]);
      const double a2 = std::atan2(sin.values[r * hs + half - 2], cos.values[r * hs + half - 2]);
      if (a1 > 0 && a2 > 0) theta = std::pow(a1 / a2, -static_cast<double>(h) / 2);
    }
    if (!(theta >= 1 && theta <= 1e9)) theta = 10000;  // every position 0: any theta fits
    // Round to 4 significant digits (configs give 1e4, 5e5, 1e6, ...).
    const double scale = std::pow(10.0, std::floor(std::log10(theta)) - 3);
    theta = std::round(theta / scale) * scale;
    std::vector<double> inv(half);
    for (size_t i = 0; i < half; ++i) {
      inv[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(h));
    }
    int64_t position = -1;
    for (size_t r = 0; r < rows; ++r) {
      const double a = std::atan2(sin.values[r * hs + half - 1], cos.values[r * hs + half - 1]);
      const auto p = static_cast<int64_t>(std::llround(a / inv[half - 1]));
      const int64_t t = static_cast<int64_t>(r) % tokens;
      if (position < 0) position = p - t;
      if (p - t != position) return std::nullopt;  // positions differ between sequences
      for (size_t i = 0; i < hs; ++i) {
        const double angle = static_cast<double>(p) * inv[i % half];
        if (std::abs(cos.values[r * hs + i] - std::cos(angle)) > 1e-4 ||
            std::abs(sin.values[r * hs + i] - std::sin(angle)) > 1e-4) {
          return std::nullopt;
        }
      }
    }
    if (position < 0) return std::nullopt;
    return Rope{h, position, tokens, theta};
  }

  static int64_t int_attr(const onnx::NodeProto& node, const std::string& key, int64_t fallback) {
    for (const auto& a : node.attribute()) {
      if (a.name() == key) return a.i();
    }
    return fallback;
  }

  // The shape of a constant (folded, given or an initializer).
  Dims const_shape(const std::string& name) const {
    if (auto it = consts_.find(name); it != consts_.end()) return it->second.shape;
    return init_shapes_.at(name);
  }
  [[nodiscard]] bool is_const(const std::string& name) const {
    return consts_.count(name) || original_.count(name);
  }

  Value value(const onnx::NodeProto& node, const std::string& name) {
    if (auto it = known_.find(name); it != known_.end()) return it->second;
    if (is_const(name)) return {Kind::Constant, "", const_shape(name)};
    if (auto t = transposed_of_.find(name); t != transposed_of_.end()) {
      const Dims w = const_shape(t->second);
      return {Kind::Constant, "", {w[1], w[0]}};
    }
    auto p = producer_.find(name);
    if (p != producer_.end()) {
      fail(node, fmt::format("input '{}' is computed by a later node (#{}): ONNX nodes must be "
                             "in topological order, and a graph with a cycle has none",
                             name, p->second));
    }
    fail(node, "input '" + name +
                   "' is not a graph input, an initializer or the output of an earlier node");
  }

  // The graph tensor of weight `name` (an initializer, or a constant
  // computed from initializers), added once. A 2-D weight whose values are
  // those of another initializer, or their transpose, is that initializer:
  // PyTorch writes a tied head (GPT-2's, OPT's, Qwen2's lm_head shares the
  // embedding) as a second initializer holding the transposed copy, or
  // leaves a Transpose of it (kept as weight_transposed).
  Weight weight(const onnx::NodeProto& node, const std::string& name) {
    if (auto t = transposed_of_.find(name); t != transposed_of_.end()) {
      Weight w = weight(node, t->second);
      w.transposed = !w.transposed;
      return w;
    }
    if (auto it = weights_.find(name); it != weights_.end()) return it->second;
    if (given_.count(name)) {
      fail(node, fmt::format("'{}' is a graph input given at import, not a weight", name));
    }
    if (!is_const(name)) fail(node, "'" + name + "' is not a weight (an initializer)");
    const Dims shape = const_shape(name);
    if (shape.empty()) fail(node, "'" + name + "' is a scalar (rank 0), not a weight");
    if (shape.size() == 2) {
      if (auto tied = tied_to(name)) return weights_[name] = *tied;
    }
    const DType dt = shape.size() >= 2 ? shape_.weight_dtype : shape_.activation_dtype;
    add_tensor(graph_, name, shape, dt, WEIGHT, true);
    return weights_[name] = Weight{name, false};
  }

  // The initializer a 2-D weight equals (or is the transpose of), if any.
  std::optional<Weight> tied_to(const std::string& name) {
    auto it = consts_.find(name);
    if (it == consts_.end()) return std::nullopt;
    const OnnxConstant& w = it->second;
    const auto rows = static_cast<size_t>(w.shape[0]), cols = static_cast<size_t>(w.shape[1]);
    auto matches = [&](const std::string& other) -> std::optional<bool> {
      auto o = consts_.find(other);
      if (other == name || o == consts_.end() || o->second.shape.size() != 2) return std::nullopt;
      const OnnxConstant& v = o->second;
      if (v.shape == w.shape && v.values == w.values) return false;
      if (v.shape == Dims{w.shape[1], w.shape[0]}) {
        for (size_t r = 0; r < rows; ++r) {
          for (size_t c = 0; c < cols; ++c) {
            if (w.values[r * cols + c] != v.values[c * rows + r]) return std::nullopt;
          }
        }
        return true;
      }
      return std::nullopt;
    };
    for (const auto& [other, wt] : weights_) {
      if (auto t = matches(other)) return Weight{wt.name, wt.transposed != *t};
    }
    if (original_.count(name)) return std::nullopt;  // tied only to a weight already used
    for (const auto& other : original_) {
      if (weights_.count(other)) continue;
      if (auto t = matches(other)) {
        const std::string other_name = other;
        const Dims shape = const_shape(other_name);
        add_tensor(graph_, other_name, shape, shape_.weight_dtype, WEIGHT, true);
        weights_[other_name] = Weight{other_name, false};
        return Weight{other_name, *t};
      }
    }
    return std::nullopt;
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
    return tensor(name, shapes_.at(onnx_name), onnx_name, alias);
  }

  // A graph activation tensor; `onnx_name` (if any) now names it.
  std::string tensor(const std::string& name, const Dims& shape, const std::string& onnx_name,
                     const std::string& alias = "") {
    Tensor& t = add_tensor(graph_, name, shape, shape_.activation_dtype, ACTIVATION, false);
    if (!alias.empty()) t.set_alias_of(alias);
    if (!onnx_name.empty()) known_[onnx_name] = {Kind::Activation, name, shape};
    return name;
  }

  // Another view of `x`'s bytes with `shape` (same size).
  std::string view(const std::string& x, const Dims& shape, const std::string& name) {
    return tensor(name, shape, "", x);
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

  // An axis in [-rank, rank), made non-negative.
  size_t axis_of(const onnx::NodeProto& node, int64_t axis, size_t rank) {
    const auto r = static_cast<int64_t>(rank);
    if (axis < -r || axis >= r) fail(node, fmt::format("axis {} of a rank-{} tensor", axis, rank));
    return static_cast<size_t>(axis < 0 ? axis + r : axis);
  }

  static int64_t product(const Dims& d, size_t from, size_t to) {
    int64_t n = 1;
    for (size_t i = from; i < to; ++i) n *= d[i];
    return n;
  }

  // `x` [.., 1 at some axes, ..] broadcast to `to` by copying rows: for
  // each broadcast axis a, x viewed as [outer, inner] (outer: the axes
  // before a) is concatenated with itself to[a] times on the last axis,
  // which is x repeated along a. Real data movement (CONCAT), so it
  // computes in functional mode.
  std::string broadcast_rows(const onnx::NodeProto& node, const Value& x, const Dims& to,
                             const std::string& what) {
    Dims s = x.shape;
    if (s.size() > to.size())
      fail(node, fmt::format("'{}' has a higher rank than the result", what));
    s.insert(s.begin(), to.size() - s.size(), 1);
    std::string cur = x.tensor;
    for (size_t a = to.size(); a-- > 0;) {
      if (s[a] == to[a]) continue;
      if (s[a] != 1) {
        fail(node, fmt::format("'{}' [{}] does not broadcast to [{}]", what,
                               fmt::join(x.shape, ", "), fmt::join(to, ", ")));
      }
      const int64_t outer = product(s, 0, a), inner = product(s, a + 1, s.size());
      const std::string base = fmt::format("{}.bcast{}", node.output(0), a);
      const std::string rows = view(cur, {outer, inner}, base + ".in");
      const std::string copied = tensor(base, {outer, to[a] * inner}, "");
      emit(node, CONCAT, std::vector<std::string>(static_cast<size_t>(to[a]), rows), {copied},
           fmt::format(".bcast{}", a));
      s[a] = to[a];
      cur = copied;
    }
    return cur;
  }

  // Copies along axis `a` of `x` (any axis): x viewed as [outer, rest]
  // so that the axis is part of the last one.
  std::pair<int64_t, int64_t> rows_at(const Dims& shape, size_t a) {
    return {product(shape, 0, a), product(shape, a, shape.size())};
  }

  // Elementwise ops: one activation operand and, for binary ones, another
  // activation (broadcast by row copies to the first's shape), a weight of
  // its size or one row, or a scalar constant (attrs.scalar; scalar_first
  // when it is the left operand of Sub, Div or Pow).
  void elementwise(const onnx::NodeProto& node, VectorKind kind) {
    std::vector<Value> vals;
    for (const auto& name : node.input()) vals.push_back(value(node, name));
    int act = -1;
    for (size_t i = 0; i < vals.size(); ++i) {
      if (vals[i].kind == Kind::Activation && act < 0) act = static_cast<int>(i);
    }
    if (act < 0) fail(node, "needs an activation operand");
    const Value& x = vals[static_cast<size_t>(act)];
    if (node.input_size() == 1) {
      const std::string y = out(node);
      Node& n = emit(node, ELEMENTWISE, {x.tensor}, {y});
      set_attr(n, "kind", VectorKind_Name(kind));
      if (node.op_type() == "Neg") set_attr_real(n, "scalar", -1.0);
      return;
    }
    const size_t o = 1 - static_cast<size_t>(act);
    const std::string& other_name = node.input(static_cast<int>(o));
    const Value& other = vals[o];
    const Dims y_shape = shape_of(node, node.output(0));
    if (count(y_shape, node.output(0)) != count(x.shape, x.tensor)) {
      fail(node, fmt::format("the result [{}] is larger than its activation operand '{}' [{}] "
                             "(broadcasting the computed operand is not supported)",
                             fmt::join(y_shape, ", "), node.input(act), fmt::join(x.shape, ", ")));
    }
    std::vector<std::string> ins{x.tensor};
    std::optional<double> scalar;
    if (auto gathered = gathered_.find(other_name); gathered != gathered_.end()) {
      // Rows of a weight at constant positions (learned position
      // embeddings): looked up at run time, then used as an activation.
      const std::string rows = tensor(other_name, other.shape, other_name);
      embedding(node, gathered->second.first, &gathered->second.second, rows, ".lookup");
      ins.push_back(count(other.shape, other_name) == count(x.shape, x.tensor)
                        ? rows
                        : broadcast_rows(node, known_.at(other_name), x.shape, other_name));
    } else if (other.kind == Kind::Activation) {
      ins.push_back(count(other.shape, other.tensor) == count(x.shape, x.tensor)
                        ? other.tensor
                        : broadcast_rows(node, other, x.shape, other_name));
    } else if (count(other.shape, other_name) == 1) {
      auto c = consts_.find(other_name);
      if (c != consts_.end()) scalar = c->second.values.at(0);
    } else {
      if (!original_.count(other_name)) {
        fail(node, fmt::format("'{}' [{}] is a constant computed at import; npusim takes a "
                               "computed constant only as a scalar, a causal mask or a RoPE "
                               "table",
                               other_name, fmt::join(other.shape, ", ")));
      }
      const uint64_t n = count(other.shape, other_name);
      if (n != count(x.shape, x.tensor) && n != static_cast<uint64_t>(x.shape.back())) {
        fail(node, fmt::format("broadcasting {} elements over '{}' is not supported (same size, "
                               "one row, or a scalar)",
                               n, x.tensor));
      }
      ins.push_back(weight(node, other_name).name);
    }
    const std::string y = out(node);
    Node& n = emit(node, ELEMENTWISE, ins, {y});
    set_attr(n, "kind", VectorKind_Name(kind));
    if (scalar) {
      set_attr_real(n, "scalar", *scalar);
      if (act == 1) set_attr(n, "scalar_first", 1);
    }
  }

  // Where a constant mask `m` (broadcast over [.., T, L] scores) lets score
  // (t, j) through: `allowed(v)`. 0 when it lets every score through, T
  // when it is causal (query t of the T newest sees keys up to L - T + t).
  std::optional<int64_t> mask_kind(const OnnxConstant& m, const Dims& scores,
                                   const std::function<std::optional<bool>(double)>& allowed) {
    if (scores.size() < 2 || m.shape.size() < 2) return std::nullopt;
    const int64_t T = scores[scores.size() - 2], L = scores.back();
    const int64_t mt = m.shape[m.shape.size() - 2], ml = m.shape.back();
    if ((mt != T && mt != 1) || ml != L) return std::nullopt;
    bool all = true, causal = true;
    for (size_t i = 0; i < m.values.size(); ++i) {
      const auto j = static_cast<int64_t>(i % static_cast<size_t>(L));
      const auto t = static_cast<int64_t>((i / static_cast<size_t>(L)) % static_cast<size_t>(mt));
      const std::optional<bool> a = allowed(m.values[i]);
      if (!a) return std::nullopt;
      all = all && *a;
      causal = causal && mt == T && *a == (j <= L - T + t);
    }
    if (all) return 0;
    if (causal) return T;
    return std::nullopt;
  }

  // The causal-mask ops: Where(mask, scores, very negative) or its mirror,
  // and scores + an additive 0 / very negative mask. The mask becomes the
  // attrs of the Softmax the scores feed (they must feed one).
  bool mask(const onnx::NodeProto& node) {
    const std::string& op = node.op_type();
    std::string scores_name, mask_name;
    std::function<std::optional<bool>(double)> allowed;
    if (op == "Where") {
      const bool cond_const = consts_.count(node.input(0)) != 0;
      if (!cond_const) {
        fail(node, "the condition '" + node.input(0) +
                       "' is computed at run time; npusim takes a Where only as a constant mask "
                       "of scores");
      }
      for (int k = 1; k <= 2; ++k) {
        const std::string &s = node.input(k), &fill = node.input(3 - k);
        auto f = consts_.find(fill);
        if (known_.count(s) && f != consts_.end() && f->second.values.size() == 1 &&
            f->second.values[0] <= kMasked) {
          scores_name = s;
          mask_name = node.input(0);
          allowed = [keep_true = k == 1](double c) -> std::optional<bool> {
            return (c != 0) == keep_true;
          };
        }
      }
      if (scores_name.empty()) {
        fail(node,
             "npusim takes a Where only as a mask: Where(constant condition, scores, "
             "value <= -1e30) or the mirror");
      }
    } else {  // Add
      for (int k = 0; k < 2; ++k) {
        auto c = consts_.find(node.input(1 - k));
        if (known_.count(node.input(k)) && c != consts_.end() && c->second.values.size() > 1 &&
            !original_.count(node.input(1 - k)) && !gathered_.count(node.input(1 - k))) {
          scores_name = node.input(k);
          mask_name = node.input(1 - k);
        }
      }
      if (scores_name.empty()) return false;
      allowed = [](double v) -> std::optional<bool> {
        if (v == 0) return true;
        if (v <= kMasked) return false;
        return std::nullopt;
      };
    }
    const Value scores = value(node, scores_name);
    const std::optional<int64_t> kind = mask_kind(consts_.at(mask_name), scores.shape, allowed);
    if (!kind) {
      fail(node, fmt::format("the mask '{}' [{}] is neither causal nor all open; npusim applies "
                             "only causal masks (as the Softmax's causal attribute)",
                             mask_name, fmt::join(consts_.at(mask_name).shape, ", ")));
    }
    if (count(shape_of(node, node.output(0)), node.output(0)) != count(scores.shape, scores_name)) {
      fail(node, "the mask is larger than the scores");
    }
    activation(node.output(0), node.output(0), scores.tensor);
    known_[node.output(0)].causal_tokens = *kind != 0 ? *kind : scores.causal_tokens;
    return true;
  }

  void lower(const onnx::NodeProto& node) {
    static const std::map<std::string, VectorKind> binary = {
        {"Add", ADD}, {"Sub", SUB}, {"Mul", MUL}, {"Div", DIV}, {"Pow", POW}};
    static const std::map<std::string, VectorKind> unary = {
        {"Sqrt", SQRT}, {"Erf", ERF}, {"Tanh", TANH}, {"Sigmoid", SIGMOID},
        {"Relu", RELU}, {"Exp", EXP}, {"Neg", MUL}};
    const std::string& op = node.op_type();
    hint_.clear();
    for (const auto& name : node.input()) {
      auto it = known_.find(name);
      if (it == known_.end()) continue;
      const bool view = op == "Cast" || op == "Identity" || op == "Reshape" || op == "Squeeze" ||
                        op == "Unsqueeze" || op == "Flatten";
      const bool keeps_rows = view && shapes_.count(node.output(0)) &&
                              !shapes_.at(node.output(0)).empty() &&
                              shapes_.at(node.output(0)).back() == it->second.shape.back();
      if (it->second.causal_tokens != 0 && op != "Softmax" && op != "Max" && !keeps_rows) {
        fail(node, "reads the masked scores '" + name +
                       "'; npusim applies a causal mask only in the Softmax they feed");
      }
      auto src = integer_source_.find(name);
      const bool values_help = op == "MatMul" || op == "Cos" || op == "Sin" || op == "Gather";
      if (src != integer_source_.end() && hint_.empty() && values_help) {
        hint_ = fmt::format(
            " ('{}' is computed from the integer input '{}': give its values at "
            "import, npusim run --input {}=FILE.npy)",
            name, src->second, src->second);
      }
    }
    if (op == "Where" || (op == "Add" && mask(node))) {
      if (op == "Where") mask(node);
      return;
    }
    if (auto it = binary.find(op); it != binary.end()) return elementwise(node, it->second);
    if (auto it = unary.find(op); it != unary.end()) return elementwise(node, it->second);
    if (op == "Max") {
      // max(scores, finfo.min) (OPT's clamp of masked scores) is the
      // scores themselves for every finite score.
      const Value x = value(node, node.input(0));
      auto c = node.input_size() == 2 ? consts_.find(node.input(1)) : consts_.end();
      if (x.kind != Kind::Activation || c == consts_.end() || c->second.values.size() != 1 ||
          c->second.values[0] > -3.4e38) {
        fail(node,
             "npusim takes a Max only as max(scores, finfo(float32).min), a clamp that "
             "leaves finite scores as they are");
      }
      activation(node.output(0), node.output(0), x.tensor);
      known_[node.output(0)].causal_tokens = x.causal_tokens;
      return;
    }
    if (op == "Cast" || op == "Identity" || op == "Reshape" || op == "Squeeze" ||
        op == "Unsqueeze" || op == "Flatten") {
      const Value in = value(node, node.input(0));
      if (in.kind != Kind::Activation) fail(node, "reshaping a weight is not supported");
      if (op == "Cast") {
        const int64_t to = int_attr(node, "to", 0);
        using TP = onnx::TensorProto;
        if (to != TP::FLOAT && to != TP::FLOAT16 && to != TP::BFLOAT16 && to != TP::DOUBLE) {
          fail(node, "a Cast of a computed value to a non-float type is not supported");
        }
      }
      const Dims to = shape_of(node, node.output(0));
      if (count(to, node.output(0)) != count(in.shape, node.input(0))) {
        fail(node, fmt::format("'{}' [{}] and '{}' [{}] differ in size", node.input(0),
                               fmt::join(in.shape, ", "), node.output(0), fmt::join(to, ", ")));
      }
      activation(node.output(0), node.output(0), in.tensor);  // a view: same bytes
      known_[node.output(0)].causal_tokens = in.causal_tokens;
      if (auto s = integer_source_.find(node.input(0)); s != integer_source_.end()) {
        integer_source_[node.output(0)] = s->second;
      }
      return;
    }
    if (op == "Transpose") {
      const Value in = value(node, node.input(0));
      if (in.kind != Kind::Activation) {
        if (original_.count(node.input(0)) && const_shape(node.input(0)).size() == 2) {
          transposed_of_[node.output(0)] = node.input(0);  // a weight read transposed
          return;
        }
        fail(node, "a Transpose of a constant that is not a 2-D weight");
      }
      transpose(node, in);
      return;
    }
    if (op == "Expand") {
      const Value in = value(node, node.input(0));
      if (in.kind != Kind::Activation) fail(node, "an Expand of a constant left at run time");
      const Dims to = shape_of(node, node.output(0));
      const std::string y = broadcast_rows(node, in, to, node.input(0));
      activation(node.output(0), node.output(0), y == in.tensor ? in.tensor : y);
      return;
    }
    if (op == "MatMul" || op == "Gemm") {
      Value a = value(node, node.input(0));
      const Value b = value(node, node.input(1));
      if (a.kind != Kind::Activation) fail(node, "the first operand must be computed");
      if (op == "Gemm" && int_attr(node, "transA", 0) != 0) {
        // A transposed first: a Transpose of its own (a transposing COPY).
        if (a.shape.size() != 2) fail(node, "transA needs a 2-D first operand");
        onnx::NodeProto t;
        t.set_name((node.name().empty() ? node.output(0) : node.name()) + ".transA");
        t.set_op_type("Transpose");
        t.add_input(node.input(0));
        t.add_output(node.output(0) + ".a_t");
        shapes_[t.output(0)] = {a.shape[1], a.shape[0]};
        transpose(t, a);
        a = value(t, t.output(0));
      }
      if (op == "Gemm" && (real_attr(node, "alpha", 1) != 1 || real_attr(node, "beta", 1) != 1)) {
        fail(node, "alpha and beta other than 1 are not supported");
      }
      const bool bias = op == "Gemm" && node.input_size() == 3 && !node.input(2).empty();
      std::string y = out(node);
      if (b.kind == Kind::Constant) {
        if (b.shape.size() != 2) fail(node, "the weight must be 2-D");
        const Weight w = weight(node, node.input(1));
        const std::string raw = bias ? y + ".raw" : y;
        if (bias)
          add_tensor(graph_, raw, shapes_.at(node.output(0)), shape_.activation_dtype, ACTIVATION,
                     false);
        Node& n = emit(node, MATMUL, {a.tensor, w.name}, {raw});
        const bool transposed = w.transposed != (op == "Gemm" && int_attr(node, "transB", 0) != 0);
        if (transposed) set_attr(n, "weight_transposed", 1);
        if (bias) emit(node, BIAS_ADD, {raw, weight(node, node.input(2)).name}, {y}, ".bias_add");
      } else {
        if (bias) fail(node, "Gemm of two computed operands with a bias is not supported");
        emit(node, BATCH_MATMUL, {a.tensor, b.tensor}, {y});
      }
      return;
    }
    if (op == "Softmax") {
      const Value x = value(node, node.input(0));
      require_last_axis(node, int_attr(node, "axis", -1), x.shape.size());
      if (x.kind != Kind::Activation) fail(node, "its input must be computed");
      Node& n = emit(node, SOFTMAX_OP, {x.tensor}, {out(node)});
      if (x.causal_tokens != 0) {
        set_attr(n, "causal", 1);
        set_attr(n, "tokens", x.causal_tokens);
      }
      return;
    }
    if (op == "ReduceMean") {
      const Value x = value(node, node.input(0));
      int64_t axis = -1;
      for (const auto& a : node.attribute()) {
        if (a.name() == "axes" && a.ints_size() == 1) axis = a.ints(0);
      }
      if (node.input_size() == 2) {
        auto c = consts_.find(node.input(1));
        if (c != consts_.end() && c->second.values.size() == 1) {
          axis = static_cast<int64_t>(c->second.values[0]);
        }
      }
      require_last_axis(node, axis, x.shape.size());
      emit(node, REDUCE_MEAN_OP, {x.tensor}, {out(node)});
      return;
    }
    if (op == "LayerNormalization") {
      const Value x = value(node, node.input(0));
      require_last_axis(node, int_attr(node, "axis", -1), x.shape.size());
      if (node.input_size() != 3) fail(node, "needs scale and bias");
      const double eps = real_attr(node, "epsilon", 1e-5);  // the ONNX default
      if (!(eps >= 0 && eps <= 1))
        fail(node, fmt::format("epsilon {:g}: must be between 0 and 1", eps));
      set_attr_real(
          emit(node, LAYER_NORM,
               {x.tensor, weight(node, node.input(1)).name, weight(node, node.input(2)).name},
               {out(node)}),
          "eps", eps);
      return;
    }
    if (op == "Split" || op == "Slice") return split(node);
    if (op == "Concat") {
      const Dims y_shape = shape_of(node, node.output(0));
      const size_t a = axis_of(node, int_attr(node, "axis", 0), y_shape.size());
      std::vector<std::string> ins;
      int64_t width = 0;
      for (const auto& name : node.input()) {
        const Value v = value(node, name);
        if (v.kind != Kind::Activation) fail(node, "every input must be computed");
        if (a + 1 == y_shape.size()) {
          ins.push_back(v.tensor);
        } else {  // rows of [outer, axis and inner]
          const auto [outer, rest] = rows_at(v.shape, a);
          ins.push_back(view(v.tensor, {outer, rest}, name + ".rows." + node.output(0)));
          width += rest;
        }
      }
      if (a + 1 == y_shape.size()) {
        emit(node, CONCAT, ins, {out(node)});
      } else {
        const std::string rows =
            tensor(node.output(0) + ".rows", {product(y_shape, 0, a), width}, "");
        emit(node, CONCAT, ins, {rows});
        activation(node.output(0), node.output(0), rows);
      }
      return;
    }
    if (op == "Gather") return gather(node);
    if (op == "Constant") return;  // folded
    for (const auto& name : node.input()) {
      if (auto d = data_.find(name); d != data_.end() && foldable(op)) {
        fail(node, "initializer '" + name + "' has no data npusim can evaluate: " + d->second);
      }
    }
    fail(node, node.input_size() > 0 && foldable(op)
                   ? "npusim evaluates this op only at import, on constant inputs; '" +
                         node.input(0) + "' is computed at run time"
                   : "this op has no lowering in npusim (supported, in the default domain: " +
                         kSupported + ")");
  }

  // A Transpose: a sequence of swaps of two adjacent groups of axes,
  // [outer, R.., C.., inner] -> [outer, C.., R.., inner], each a COPY
  // through the vector unit with transpose_rows R, one group of
  // R x C x inner elements at a time, into a tensor of its own. Output
  // axis by output axis, the input axis that belongs there is brought
  // forward past the axes between (with the axes after it that follow it
  // in perm too): one swap for a head transpose or K^T, at most rank - 1
  // for any permutation.
  void transpose(const onnx::NodeProto& node, const Value& in) {
    const size_t rank = in.shape.size();
    std::vector<size_t> perm;
    for (const auto& a : node.attribute()) {
      if (a.name() == "perm") {
        for (int64_t p : a.ints()) perm.push_back(axis_of(node, p, rank));
      }
    }
    if (perm.empty()) {
      for (size_t i = rank; i-- > 0;) perm.push_back(i);
    }
    if (perm.size() != rank) fail(node, "perm does not fit the input's rank");
    std::vector<bool> seen(rank, false);
    for (size_t p : perm) {
      if (seen[p]) {
        fail(node, fmt::format("perm [{}] is not a permutation of the input's axes",
                               fmt::join(perm, ", ")));
      }
      seen[p] = true;
    }
    // The swaps, as (first axis a, first axis of the second group m, end b)
    // of the layout they are applied to.
    struct Swap {
      size_t a, m, b;
      Dims shape;  // the layout's dims before the swap
    };
    std::vector<Swap> swaps;
    std::vector<size_t> order(rank);  // input axis at each position of the layout
    for (size_t i = 0; i < rank; ++i) order[i] = i;
    for (size_t a = 0; a < rank; ++a) {
      const size_t m =
          static_cast<size_t>(std::find(order.begin(), order.end(), perm[a]) - order.begin());
      if (m == a) continue;
      size_t b = m + 1;
      while (b < rank && a + (b - m) < rank && order[b] == perm[a + (b - m)]) ++b;
      Dims shape;
      for (size_t k : order) shape.push_back(in.shape[k]);
      swaps.push_back({a, m, b, shape});
      std::rotate(order.begin() + static_cast<std::ptrdiff_t>(a),
                  order.begin() + static_cast<std::ptrdiff_t>(m),
                  order.begin() + static_cast<std::ptrdiff_t>(b));
    }
    shape_of(node, node.output(0));
    if (swaps.empty()) {  // the identity
      activation(node.output(0), node.output(0), in.tensor);
      return;
    }
    std::string from = in.tensor;
    for (size_t s = 0; s < swaps.size(); ++s) {
      const Swap& w = swaps[s];
      const bool last = s + 1 == swaps.size();
      const std::string step = last ? "" : fmt::format(".{}", s + 1);
      const int64_t outer = product(w.shape, 0, w.a), r = product(w.shape, w.a, w.m),
                    c = product(w.shape, w.m, w.b), inner = product(w.shape, w.b, rank);
      const std::string x = view(from, {outer, r, c, inner},
                                 node.output(0) + (s == 0 ? ".in" : fmt::format(".in{}", s + 1)));
      const std::string y = tensor(node.output(0) + ".t" + step, {outer, c, r, inner}, "");
      Node& n = emit(node, ELEMENTWISE, {x}, {y}, step);
      set_attr(n, "kind", VectorKind_Name(COPY));
      set_attr(n, "transpose_rows", r);
      set_attr(n, "transpose_group", r * c * inner);
      from = y;
    }
    activation(node.output(0), node.output(0), from);
  }

  // Split, or a Slice with step 1 on one axis: SLICE of the input viewed
  // as rows of [outer, axis and inner].
  void split(const onnx::NodeProto& node) {
    const Value x = value(node, node.input(0));
    if (x.kind != Kind::Activation) fail(node, "its input must be computed");
    size_t a = 0;
    std::vector<int64_t> starts;
    if (node.op_type() == "Split") {
      a = axis_of(node, int_attr(node, "axis", 0), x.shape.size());
      int64_t offset = 0;
      for (int i = 0; i < node.output_size(); ++i) {
        starts.push_back(offset);
        offset += shape_of(node, node.output(i))[a];
      }
      if (offset != x.shape[a]) fail(node, "the parts do not add up to the input");
    } else {
      const Dims y = shape_of(node, node.output(0));
      if (y.size() != x.shape.size()) fail(node, "changes the rank");
      int axes = 0;
      for (size_t d = 0; d < y.size(); ++d) {
        if (y[d] != x.shape[d]) {
          a = d;
          ++axes;
        }
      }
      if (axes > 1) fail(node, "a Slice of more than one axis is not supported");
      if (axes == 0) a = y.size() - 1;
      int64_t start = 0;
      if (node.input_size() >= 3) {
        for (int i = 1; i < node.input_size(); ++i) {
          if (!node.input(i).empty() && !consts_.count(node.input(i))) {
            fail(node, "its starts, ends, axes and steps must be constants");
          }
        }
        const OnnxConstant& s = consts_.at(node.input(1));
        std::vector<int64_t> axes_list;
        if (node.input_size() > 3 && !node.input(3).empty()) {
          for (double v : consts_.at(node.input(3)).values)
            axes_list.push_back(static_cast<int64_t>(v));
        } else {
          for (size_t i = 0; i < s.values.size(); ++i) axes_list.push_back(static_cast<int64_t>(i));
        }
        std::vector<int64_t> steps(axes_list.size(), 1);
        if (node.input_size() > 4 && !node.input(4).empty()) {
          const auto& given = consts_.at(node.input(4)).values;
          for (size_t i = 0; i < steps.size() && i < given.size(); ++i)
            steps[i] = to_int64(given[i]);
        }
        // A reversal keeps the shape: its axis is the one stepping backwards.
        if (axes == 0) {
          int stepping = 0;
          for (size_t i = 0; i < axes_list.size(); ++i) {
            if (steps[i] == 1) continue;
            a = axis_of(node, axes_list[i], x.shape.size());
            ++stepping;
          }
          if (stepping > 1) fail(node, "a Slice of more than one axis is not supported");
        }
        int64_t step = 1;
        for (size_t i = 0; i < axes_list.size(); ++i) {
          if (axis_of(node, axes_list[i], x.shape.size()) != a) continue;
          step = steps[i];
          if (step == 0) fail(node, "a step of 0");
          start = to_int64(s.values.at(i));
          if (start < 0) start += x.shape[a];
          // ONNX clamps the start to [0, dim] going forwards, [0, dim - 1] backwards.
          start = std::clamp<int64_t>(start, 0, x.shape[a] - (step < 0 ? 1 : 0));
        }
        if (step != 1) return strided_slice(node, x, a, start, step);
      } else if (node.input_size() != 1) {
        fail(node, "needs starts and ends");
      }
      starts.push_back(start);
    }
    const bool last = a + 1 == x.shape.size();
    const auto [outer, rest] = rows_at(x.shape, a);
    const int64_t inner = product(x.shape, a + 1, x.shape.size());
    const std::string in = last ? x.tensor : view(x.tensor, {outer, rest}, node.output(0) + ".in");
    for (int i = 0; i < node.output_size(); ++i) {
      const Dims y = shape_of(node, node.output(i));
      std::string target;
      if (last) {
        target = out(node, i);
      } else {
        target = tensor(node.output(i) + ".rows", {outer, y[a] * inner}, "");
      }
      Node& n =
          emit(node, SLICE, {in}, {target}, node.output_size() > 1 ? fmt::format(".{}", i) : "");
      set_attr(n, "offset", starts[static_cast<size_t>(i)] * inner);
      if (!last) activation(node.output(i), node.output(i), target);
    }
  }

  // A Slice with a step other than 1 on axis `a` (backwards too): the
  // input viewed as rows of the axis's inner elements, and the picked rows
  // (start + j * step of each outer block) gathered, one DMA each.
  void strided_slice(const onnx::NodeProto& node, const Value& x, size_t a, int64_t start,
                     int64_t step) {
    const Dims y = shape_of(node, node.output(0));
    const int64_t outer = product(x.shape, 0, a), len = x.shape[a];
    const int64_t inner = product(x.shape, a + 1, x.shape.size());
    std::string rows;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < y[a]; ++j) {
        const int64_t i = start + j * step;
        if (i < 0 || i >= len) fail(node, "its output shape does not match its starts and steps");
        rows += fmt::format("{}{}", rows.empty() ? "" : ",", o * len + i);
      }
    }
    const std::string in = view(x.tensor, {outer * len, inner}, node.output(0) + ".in");
    const std::string target = tensor(node.output(0) + ".rows", {outer * y[a], inner}, "");
    set_attr(emit(node, GATHER_ROWS, {in}, {target}, ""), "rows", rows);
    activation(node.output(0), node.output(0), target);
  }

  // Gather of rows of a 2-D weight: EMBEDDING. Its rows are fixed at
  // compile time: constant indices (positions, ids given at import) are
  // listed (attrs.row and tokens for consecutive positions, else attrs.rows);
  // token ids read from a graph input whose values were not given are drawn
  // from the seed, as for models built from a config.
  void gather(const onnx::NodeProto& node) {
    const Value table = value(node, node.input(0));
    if (table.kind != Kind::Constant || table.shape.size() != 2 || int_attr(node, "axis", 0) != 0) {
      fail(node, "only an embedding lookup (rows of a 2-D weight) is supported");
    }
    auto c = consts_.find(node.input(1));
    if (c == consts_.end() && !integer_inputs_.count(node.input(1))) {
      fail(node, "its indices '" + node.input(1) +
                     "' are computed at run time; npusim fixes an embedding's rows at compile "
                     "time (constants, or a graph input's values given at import)");
    }
    embedding(node, node.input(0), c == consts_.end() ? nullptr : &c->second, out(node), "");
  }

  // EMBEDDING of rows `idx` (nullptr: token ids drawn from the seed) of
  // weight `table` into tensor `y`.
  void embedding(const onnx::NodeProto& node, const std::string& table, const OnnxConstant* idx,
                 const std::string& y, const std::string& suffix) {
    const Weight w = weight(node, table);
    if (w.transposed) fail(node, "the table '" + table + "' is a transposed weight");
    const int64_t table_rows = const_shape(table)[0];
    Node& n = emit(node, EMBEDDING, {w.name}, {y}, suffix);
    if (idx == nullptr) {
      set_attr(n, "seed", static_cast<int64_t>(shape_.seed));
      return;
    }
    std::vector<int64_t> rows;
    for (double v : idx->values) {
      int64_t r = to_int64(v);
      if (r < 0) r += table_rows;
      if (r < 0 || r >= table_rows) {
        fail(node, fmt::format("index {} is outside the table's {} rows", to_int64(v), table_rows));
      }
      rows.push_back(r);
    }
    const auto tokens = static_cast<int64_t>(idx->shape.empty() ? 1 : idx->shape.back());
    bool consecutive = !rows.empty(), same = !rows.empty();
    for (size_t i = 0; i < rows.size(); ++i) {
      consecutive = consecutive && rows[i] == rows[0] + static_cast<int64_t>(i) % tokens;
      same = same && rows[i] == rows[0];
    }
    if (same) {
      set_attr(n, "row", rows[0]);
    } else if (consecutive && rows[0] + tokens <= table_rows) {
      set_attr(n, "row", rows[0]);
      set_attr(n, "tokens", tokens);
    } else {
      set_attr(n, "rows", fmt::format("{}", fmt::join(rows, ",")));
    }
  }

  std::string path_;
  DecodeShape shape_;
  const OnnxInputs& inputs_;
  int64_t opset_ = 0;
  Graph graph_;
  std::unordered_map<std::string, Dims> shapes_;
  std::unordered_map<std::string, Value> known_;  // activations
  // Constants: initializers with data, Constant nodes, folded values and
  // inputs given at import.
  std::map<std::string, OnnxConstant> consts_;
  std::set<std::string> original_;                     // the file's initializers
  std::unordered_map<std::string, Dims> init_shapes_;  // their shapes
  std::unordered_map<std::string, std::string> data_;  // initializers without usable data: why
  std::set<std::string> folded_;                       // values computed at import
  // Folded lookups of weight rows at constant indices: table, indices.
  std::map<std::string, std::pair<std::string, OnnxConstant>> gathered_;
  std::set<std::string> given_;           // inputs given at import
  std::set<std::string> integer_inputs_;  // integer graph inputs left to run time
  std::unordered_map<std::string, std::string> integer_source_;  // value -> integer input
  std::map<std::string, Weight> weights_;                        // materialised weights
  std::unordered_map<std::string, std::string> transposed_of_;   // Transpose(weight) -> weight
  std::string hint_;  // appended to a node's error: which input to give
  // Patterns: the last node of each, and the nodes it absorbs.
  std::map<int, Fused> fused_;
  std::set<int> absorbed_;
  std::unordered_map<std::string, int> producer_;  // value -> node index
  std::unordered_map<std::string, int> uses_;      // value -> consumers (graph outputs count)
  std::unordered_map<std::string, int>
      consumer_;  // value -> a node consuming it (the one when uses_ is 1)
  std::unordered_map<std::string, double> scalars_;
};

}  // namespace

OnnxModel import_onnx_model(const std::string& path, const DecodeShape& shape,
                            const OnnxInputs& inputs) {
  onnx::ModelProto model;
  if (!model.ParseFromString(read_file(path))) {
    throw UserError(path + ": not a valid ONNX model (truncated or corrupt protobuf)");
  }
  Importer importer(path, shape, inputs);
  OnnxModel out;
  out.graph = importer.run(model);
  out.weights = importer.weight_values();
  out.fixed_inputs = importer.fixed_inputs();
  return out;
}

Graph import_onnx(const std::string& path, const DecodeShape& shape, const OnnxInputs& inputs) {
  return import_onnx_model(path, shape, inputs).graph;
}

}  // namespace npusim::compiler

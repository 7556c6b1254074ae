#include "compiler/frontends/onnx_constant.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>

namespace npusim::compiler {
namespace {

using T = onnx::TensorProto;
using Dims = std::vector<int64_t>;

uint64_t elements(const Dims& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw FoldError(fmt::format("dimension {} is negative", d));
    if (d != 0 && n > kMaxFoldElements / static_cast<uint64_t>(d)) {
      throw FoldError(fmt::format("a result of shape [{}] is over the {} elements folded at import",
                                  fmt::join(shape, ", "), kMaxFoldElements));
    }
    n *= static_cast<uint64_t>(d);
  }
  if (n > kMaxFoldElements) {
    throw FoldError(fmt::format("a result of shape [{}] is over the {} elements folded at import",
                                fmt::join(shape, ", "), kMaxFoldElements));
  }
  return n;
}

bool is_float(int32_t type) {
  return type == T::FLOAT || type == T::DOUBLE || type == T::FLOAT16 || type == T::BFLOAT16;
}

// A value stored as `type`: float32 rounding, integer truncation, bool 0/1.
double as_type(double v, int32_t type) {
  switch (type) {
    case T::FLOAT:
    case T::FLOAT16:
    case T::BFLOAT16:
      return static_cast<double>(static_cast<float>(v));
    case T::DOUBLE:
      return v;
    case T::BOOL:
      return v != 0 ? 1.0 : 0.0;
    default:
      return std::isfinite(v) ? std::trunc(v) : v;
  }
}

template <typename Elem>
void append_raw(const std::string& raw, std::vector<double>& out) {
  const size_t n = raw.size() / sizeof(Elem);
  for (size_t i = 0; i < n; ++i) {
    Elem e;
    std::memcpy(&e, raw.data() + i * sizeof(Elem), sizeof(Elem));
    out.push_back(static_cast<double>(e));
  }
}

// Strides of a row-major shape, in elements.
std::vector<uint64_t> strides(const Dims& shape) {
  std::vector<uint64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * static_cast<uint64_t>(shape[i]);
  return s;
}

// The broadcast (numpy) shape of `shapes`.
Dims broadcast(const std::vector<const Dims*>& shapes) {
  size_t rank = 0;
  for (const Dims* s : shapes) rank = std::max(rank, s->size());
  Dims out(rank, 1);
  for (const Dims* s : shapes) {
    for (size_t i = 0; i < s->size(); ++i) {
      int64_t& o = out[rank - s->size() + i];
      const int64_t d = (*s)[i];
      if (d == o || d == 1) continue;
      if (o != 1) {
        std::vector<std::string> texts;
        for (const Dims* t : shapes) texts.push_back(fmt::format("[{}]", fmt::join(*t, ", ")));
        throw FoldError(fmt::format("shapes {} do not broadcast", fmt::join(texts, " and ")));
      }
      o = d;
    }
  }
  return out;
}

// For each element of `out` (row-major), the index of the element of a
// tensor of `shape` broadcast to it.
std::vector<uint64_t> broadcast_index(const Dims& shape, const Dims& out) {
  const uint64_t n = elements(out);
  std::vector<uint64_t> idx(n);
  const std::vector<uint64_t> in_strides = strides(shape);
  const size_t off = out.size() - shape.size();
  std::vector<int64_t> pos(out.size(), 0);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t k = 0;
    for (size_t a = 0; a < shape.size(); ++a) {
      if (shape[a] != 1) k += static_cast<uint64_t>(pos[a + off]) * in_strides[a];
    }
    idx[i] = k;
    for (size_t a = out.size(); a-- > 0;) {
      if (++pos[a] < out[a]) break;
      pos[a] = 0;
    }
  }
  return idx;
}

const onnx::AttributeProto* attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}
int64_t int_attr(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  const auto* a = attribute(node, name);
  return a != nullptr ? a->i() : fallback;
}
std::vector<int64_t> ints_attr(const onnx::NodeProto& node, const std::string& name) {
  const auto* a = attribute(node, name);
  return a != nullptr ? std::vector<int64_t>(a->ints().begin(), a->ints().end())
                      : std::vector<int64_t>{};
}

std::vector<int64_t> ints(const OnnxConstant& c) {
  std::vector<int64_t> out;
  out.reserve(c.values.size());
  for (double v : c.values) out.push_back(to_int64(v));
  return out;
}

// An axis in [-rank, rank) made non-negative.
size_t axis_of(int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    throw FoldError(fmt::format("axis {} is outside a rank-{} tensor", axis, rank));
  }
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

const OnnxConstant& need(const std::vector<const OnnxConstant*>& in, size_t i) {
  if (i >= in.size() || in[i] == nullptr) throw FoldError(fmt::format("input {} is absent", i));
  return *in[i];
}

OnnxConstant elementwise(const std::vector<const OnnxConstant*>& in, int32_t type,
                         const std::function<double(const std::vector<double>&)>& f) {
  std::vector<const Dims*> shapes;
  for (const OnnxConstant* c : in) shapes.push_back(&c->shape);
  OnnxConstant out;
  out.type = type;
  out.shape = broadcast(shapes);
  const uint64_t n = elements(out.shape);
  std::vector<std::vector<uint64_t>> idx;
  for (const OnnxConstant* c : in) idx.push_back(broadcast_index(c->shape, out.shape));
  out.values.resize(n);
  std::vector<double> args(in.size());
  for (uint64_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < in.size(); ++k) args[k] = in[k]->values[idx[k][i]];
    out.values[i] = as_type(f(args), type);
  }
  return out;
}

// Elements of `x` at the multi-index map of `out_shape` -> flat input index.
OnnxConstant gather_by(const OnnxConstant& x, Dims out_shape,
                       const std::function<uint64_t(const std::vector<int64_t>&)>& source) {
  OnnxConstant out;
  out.type = x.type;
  out.shape = std::move(out_shape);
  const uint64_t n = elements(out.shape);
  out.values.resize(n);
  std::vector<int64_t> pos(out.shape.size(), 0);
  for (uint64_t i = 0; i < n; ++i) {
    out.values[i] = x.values.at(source(pos));
    for (size_t a = out.shape.size(); a-- > 0;) {
      if (++pos[a] < out.shape[a]) break;
      pos[a] = 0;
    }
  }
  return out;
}

OnnxConstant reshape(const OnnxConstant& x, Dims to, bool allowzero) {
  int64_t infer = -1;
  uint64_t known = 1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == 0 && !allowzero) {
      if (i >= x.shape.size()) throw FoldError("a 0 in the shape is past the input's rank");
      to[i] = x.shape[i];
    }
    if (to[i] == -1) {
      if (infer >= 0) throw FoldError("the shape has two -1s");
      infer = static_cast<int64_t>(i);
    } else if (to[i] < 0) {
      throw FoldError(fmt::format("dimension {} of the shape is {}", i, to[i]));
    } else {
      known *= static_cast<uint64_t>(to[i]);
    }
  }
  const uint64_t n = x.values.size();
  if (infer >= 0) {
    if (known == 0 || n % known != 0) throw FoldError("the -1 of the shape cannot be inferred");
    to[static_cast<size_t>(infer)] = static_cast<int64_t>(n / known);
  }
  if (elements(to) != n) {
    throw FoldError(fmt::format("[{}] cannot be reshaped to [{}]", fmt::join(x.shape, ", "),
                                fmt::join(to, ", ")));
  }
  OnnxConstant out = x;
  out.shape = std::move(to);
  return out;
}

OnnxConstant matmul(const OnnxConstant& a0, const OnnxConstant& b0) {
  OnnxConstant a = a0, b = b0;
  const bool a_vec = a.shape.size() == 1, b_vec = b.shape.size() == 1;
  if (a.shape.empty() || b.shape.empty()) throw FoldError("MatMul of a scalar");
  if (a_vec) a.shape.insert(a.shape.begin(), 1);
  if (b_vec) b.shape.push_back(1);
  const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back();
  const int64_t n = b.shape.back();
  if (b.shape[b.shape.size() - 2] != k) {
    throw FoldError(fmt::format("MatMul of [{}] and [{}]: inner dimensions differ",
                                fmt::join(a0.shape, ", "), fmt::join(b0.shape, ", ")));
  }
  const Dims a_batch(a.shape.begin(), a.shape.end() - 2),
      b_batch(b.shape.begin(), b.shape.end() - 2);
  Dims batch = broadcast({&a_batch, &b_batch});
  const std::vector<uint64_t> ai = broadcast_index(a_batch, batch),
                              bi = broadcast_index(b_batch, batch);
  OnnxConstant out;
  out.type = a.type;
  out.shape = batch;
  out.shape.push_back(m);
  out.shape.push_back(n);
  out.values.resize(elements(out.shape));
  for (size_t p = 0; p < ai.size(); ++p) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t q = 0; q < k; ++q) {
          sum += a.values[ai[p] * static_cast<uint64_t>(m * k) + static_cast<uint64_t>(i * k + q)] *
                 b.values[bi[p] * static_cast<uint64_t>(k * n) + static_cast<uint64_t>(q * n + j)];
        }
        out.values[p * static_cast<uint64_t>(m * n) + static_cast<uint64_t>(i * n + j)] =
            as_type(sum, out.type);
      }
    }
  }
  if (a_vec) out.shape.erase(out.shape.end() - 2);
  if (b_vec) out.shape.pop_back();
  return out;
}

OnnxConstant slice(const onnx::NodeProto& node, const std::vector<const OnnxConstant*>& in,
                   int64_t opset) {
  const OnnxConstant& x = need(in, 0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    starts = ints_attr(node, "starts");
    ends = ints_attr(node, "ends");
    axes = ints_attr(node, "axes");
  } else {
    starts = ints(need(in, 1));
    ends = ints(need(in, 2));
    if (in.size() > 3 && in[3] != nullptr) axes = ints(*in[3]);
    if (in.size() > 4 && in[4] != nullptr) steps = ints(*in[4]);
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    throw FoldError("starts, ends, axes and steps differ in length");
  }
  const size_t rank = x.shape.size();
  std::vector<int64_t> first(rank, 0), step(rank, 1);
  Dims shape = x.shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t a = axis_of(axes[i], rank);
    const int64_t d = x.shape[a], s = steps[i];
    if (s == 0) throw FoldError("a step is 0");
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v += d;
      return std::clamp(v, lo, hi);
    };
    int64_t b = 0, e = 0;
    if (s > 0) {
      b = clampi(starts[i], 0, d);
      e = clampi(ends[i], 0, d);
    } else {
      b = clampi(starts[i], 0, d - 1);
      e = ends[i] < -d ? -1 : clampi(ends[i], -1, d - 1);
    }
    const int64_t len = s > 0 ? std::max<int64_t>(0, (e - b + s - 1) / s)
                              : std::max<int64_t>(0, (b - e + (-s) - 1) / (-s));
    first[a] = b;
    step[a] = s;
    shape[a] = len;
  }
  const std::vector<uint64_t> st = strides(x.shape);
  return gather_by(x, shape, [&](const std::vector<int64_t>& pos) {
    uint64_t k = 0;
    for (size_t a = 0; a < rank; ++a)
      k += static_cast<uint64_t>(first[a] + pos[a] * step[a]) * st[a];
    return k;
  });
}

OnnxConstant fold_op(const onnx::NodeProto& node, const std::vector<const OnnxConstant*>& in,
                     int64_t opset) {
  const std::string& op = node.op_type();
  using Args = const std::vector<double>&;
  static const std::map<std::string, std::function<double(Args)>> binary = {
      {"Add", [](Args a) { return a[0] + a[1]; }},
      {"Sub", [](Args a) { return a[0] - a[1]; }},
      {"Mul", [](Args a) { return a[0] * a[1]; }},
      {"Pow", [](Args a) { return std::pow(a[0], a[1]); }},
  };
  static const std::map<std::string, std::function<double(Args)>> compare = {
      {"Equal", [](Args a) { return a[0] == a[1] ? 1.0 : 0.0; }},
      {"Less", [](Args a) { return a[0] < a[1] ? 1.0 : 0.0; }},
      {"LessOrEqual", [](Args a) { return a[0] <= a[1] ? 1.0 : 0.0; }},
      {"Greater", [](Args a) { return a[0] > a[1] ? 1.0 : 0.0; }},
      {"GreaterOrEqual", [](Args a) { return a[0] >= a[1] ? 1.0 : 0.0; }},
      {"And", [](Args a) { return a[0] != 0 && a[1] != 0 ? 1.0 : 0.0; }},
      {"Or", [](Args a) { return a[0] != 0 || a[1] != 0 ? 1.0 : 0.0; }},
  };
  static const std::map<std::string, std::function<double(double)>> unary = {
      {"Neg", [](double v) { return -v; }},
      {"Sqrt", [](double v) { return std::sqrt(v); }},
      {"Cos", [](double v) { return std::cos(v); }},
      {"Sin", [](double v) { return std::sin(v); }},
      {"Exp", [](double v) { return std::exp(v); }},
      {"Reciprocal", [](double v) { return 1.0 / v; }},
      {"Abs", [](double v) { return std::abs(v); }},
      {"Floor", [](double v) { return std::floor(v); }},
      {"Ceil", [](double v) { return std::ceil(v); }},
      {"Erf", [](double v) { return std::erf(v); }},
      {"Tanh", [](double v) { return std::tanh(v); }},
      {"Sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"Relu", [](double v) { return std::max(v, 0.0); }},
      {"Not", [](double v) { return v == 0 ? 1.0 : 0.0; }},
      {"Identity", [](double v) { return v; }},
  };
  if (auto it = binary.find(op); it != binary.end()) {
    const OnnxConstant &a = need(in, 0), &b = need(in, 1);
    // Float arithmetic is computed in float32 as the runtime would (one
    // rounding per op), so (double) products of float32 values round once.
    return elementwise({&a, &b}, a.type, it->second);
  }
  if (op == "Div") {
    const OnnxConstant &a = need(in, 0), &b = need(in, 1);
    const bool integer = !is_float(a.type);
    return elementwise({&a, &b}, a.type, [integer](Args v) {
      if (integer && v[1] == 0) throw FoldError("integer division by zero");
      return integer ? std::trunc(v[0] / v[1]) : v[0] / v[1];
    });
  }
  if (op == "Max" || op == "Min") {
    std::vector<const OnnxConstant*> all;
    for (size_t i = 0; i < in.size(); ++i) all.push_back(&need(in, i));
    const bool max = op == "Max";
    return elementwise(all, all.at(0)->type, [max](Args v) {
      double r = v[0];
      for (double x : v) r = max ? std::max(r, x) : std::min(r, x);
      return r;
    });
  }
  if (auto it = compare.find(op); it != compare.end()) {
    return elementwise({&need(in, 0), &need(in, 1)}, T::BOOL, it->second);
  }
  if (auto it = unary.find(op); it != unary.end()) {
    const OnnxConstant& x = need(in, 0);
    return elementwise({&x}, op == "Not" ? T::BOOL : x.type,
                       [&f = it->second](Args v) { return f(v[0]); });
  }
  if (op == "Where") {
    const OnnxConstant &c = need(in, 0), &a = need(in, 1), &b = need(in, 2);
    return elementwise({&c, &a, &b}, a.type, [](Args v) { return v[0] != 0 ? v[1] : v[2]; });
  }
  if (op == "Cast") {
    OnnxConstant out = need(in, 0);
    out.type = static_cast<int32_t>(int_attr(node, "to", T::FLOAT));
    for (double& v : out.values) v = as_type(v, out.type);
    return out;
  }
  if (op == "Shape") {
    const OnnxConstant& x = need(in, 0);
    const auto rank = static_cast<int64_t>(x.shape.size());
    int64_t start = int_attr(node, "start", 0), end = int_attr(node, "end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    OnnxConstant out;
    out.type = T::INT64;
    out.values.assign(x.shape.begin() + start, x.shape.begin() + end);
    out.shape = {end - start};
    return out;
  }
  if (op == "ConstantOfShape") {
    OnnxConstant out;
    out.shape = ints(need(in, 0));
    double value = 0;
    if (const auto* a = attribute(node, "value"); a != nullptr && a->has_t()) {
      const OnnxConstant v = read_constant(a->t());
      if (v.values.size() != 1) throw FoldError("its value must have one element");
      out.type = v.type;
      value = v.values[0];
    }
    out.values.assign(elements(out.shape), value);
    return out;
  }
  if (op == "Expand") {
    const OnnxConstant& x = need(in, 0);
    OnnxConstant shape;
    shape.shape = ints(need(in, 1));
    const Dims out_shape = broadcast({&x.shape, &shape.shape});
    const std::vector<uint64_t> idx = broadcast_index(x.shape, out_shape);
    OnnxConstant out;
    out.type = x.type;
    out.shape = out_shape;
    out.values.reserve(idx.size());
    for (uint64_t i : idx) out.values.push_back(x.values[i]);
    return out;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    const OnnxConstant& x = need(in, 0);
    std::vector<int64_t> axes =
        opset >= 13 ? (in.size() > 1 && in[1] != nullptr ? ints(*in[1]) : std::vector<int64_t>{})
                    : ints_attr(node, "axes");
    Dims shape = x.shape;
    if (op == "Unsqueeze") {
      const size_t rank = x.shape.size() + axes.size();
      std::vector<size_t> at;
      for (int64_t a : axes) at.push_back(axis_of(a, rank));
      std::sort(at.begin(), at.end());
      for (size_t a : at) shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(a), 1);
    } else {
      std::vector<size_t> at;
      for (int64_t a : axes) at.push_back(axis_of(a, x.shape.size()));
      if (axes.empty()) {
        for (size_t a = 0; a < x.shape.size(); ++a) {
          if (x.shape[a] == 1) at.push_back(a);
        }
      }
      std::sort(at.rbegin(), at.rend());
      for (size_t a : at) {
        if (shape[a] != 1) throw FoldError(fmt::format("axis {} has size {}, not 1", a, shape[a]));
        shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(a));
      }
    }
    OnnxConstant out = x;
    out.shape = shape;
    return out;
  }
  if (op == "Reshape") {
    return reshape(need(in, 0), ints(need(in, 1)), int_attr(node, "allowzero", 0) != 0);
  }
  if (op == "Flatten") {
    const OnnxConstant& x = need(in, 0);
    const size_t a = axis_of(int_attr(node, "axis", 1), x.shape.size() + 1);
    int64_t outer = 1;
    for (size_t i = 0; i < a; ++i) outer *= x.shape[i];
    return reshape(x, {outer, -1}, false);
  }
  if (op == "Concat") {
    const OnnxConstant& first = need(in, 0);
    const size_t a = axis_of(int_attr(node, "axis", 0), first.shape.size());
    Dims shape = first.shape;
    shape[a] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const OnnxConstant& x = need(in, i);
      if (x.shape.size() != first.shape.size()) throw FoldError("inputs differ in rank");
      for (size_t d = 0; d < shape.size(); ++d) {
        if (d != a && x.shape[d] != first.shape[d]) throw FoldError("inputs differ in shape");
      }
      shape[a] += x.shape[a];
    }
    OnnxConstant out;
    out.type = first.type;
    out.shape = shape;
    uint64_t outer = 1;
    for (size_t d = 0; d < a; ++d) outer *= static_cast<uint64_t>(shape[d]);
    out.values.reserve(elements(shape));
    for (uint64_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < in.size(); ++i) {
        const uint64_t block = in[i]->values.size() / std::max<uint64_t>(outer, 1);
        out.values.insert(out.values.end(),
                          in[i]->values.begin() + static_cast<std::ptrdiff_t>(o * block),
                          in[i]->values.begin() + static_cast<std::ptrdiff_t>((o + 1) * block));
      }
    }
    return out;
  }
  if (op == "Slice") return slice(node, in, opset);
  if (op == "Gather") {
    const OnnxConstant &x = need(in, 0), &idx = need(in, 1);
    const size_t a = axis_of(int_attr(node, "axis", 0), x.shape.size());
    Dims shape(x.shape.begin(), x.shape.begin() + static_cast<std::ptrdiff_t>(a));
    shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
    shape.insert(shape.end(), x.shape.begin() + static_cast<std::ptrdiff_t>(a) + 1, x.shape.end());
    const std::vector<uint64_t> st = strides(x.shape);
    const size_t ir = idx.shape.size();
    const std::vector<uint64_t> ist = strides(idx.shape);
    return gather_by(x, shape, [&](const std::vector<int64_t>& pos) {
      uint64_t k = 0, i = 0;
      for (size_t d = 0; d < ir; ++d) i += static_cast<uint64_t>(pos[a + d]) * ist[d];
      auto j = static_cast<int64_t>(idx.values[i]);
      if (j < 0) j += x.shape[a];
      if (j < 0 || j >= x.shape[a]) {
        throw FoldError(fmt::format("index {} is outside axis {} of size {}",
                                    static_cast<int64_t>(idx.values[i]), a, x.shape[a]));
      }
      for (size_t d = 0; d < a; ++d) k += static_cast<uint64_t>(pos[d]) * st[d];
      k += static_cast<uint64_t>(j) * st[a];
      for (size_t d = a + 1; d < x.shape.size(); ++d) {
        k += static_cast<uint64_t>(pos[d + ir - 1]) * st[d];
      }
      return k;
    });
  }
  if (op == "Range") {
    const double start = need(in, 0).values.at(0), limit = need(in, 1).values.at(0),
                 delta = need(in, 2).values.at(0);
    if (delta == 0) throw FoldError("delta is 0");
    const double count = std::max(0.0, std::ceil((limit - start) / delta));
    OnnxConstant out;
    out.type = need(in, 0).type;
    out.shape = {static_cast<int64_t>(count)};
    elements(out.shape);
    for (int64_t i = 0; i < out.shape[0]; ++i) {
      out.values.push_back(as_type(start + static_cast<double>(i) * delta, out.type));
    }
    return out;
  }
  if (op == "CumSum") {
    const OnnxConstant& x = need(in, 0);
    const size_t a = axis_of(static_cast<int64_t>(need(in, 1).values.at(0)), x.shape.size());
    const bool exclusive = int_attr(node, "exclusive", 0) != 0,
               reverse = int_attr(node, "reverse", 0) != 0;
    const std::vector<uint64_t> st = strides(x.shape);
    OnnxConstant out = x;
    const auto len = static_cast<uint64_t>(x.shape[a]);
    for (uint64_t base = 0; base < x.values.size(); ++base) {
      if ((base / st[a]) % len != 0) continue;  // one run per line along the axis
      double sum = 0;
      for (uint64_t s = 0; s < len; ++s) {
        const uint64_t i = base + (reverse ? len - 1 - s : s) * st[a];
        if (exclusive) {
          out.values[i] = as_type(sum, x.type);
          sum += x.values[i];
        } else {
          sum += x.values[i];
          out.values[i] = as_type(sum, x.type);
        }
      }
    }
    return out;
  }
  if (op == "Trilu") {
    const OnnxConstant& x = need(in, 0);
    if (x.shape.size() < 2) throw FoldError("needs a tensor of rank >= 2");
    const int64_t k =
        in.size() > 1 && in[1] != nullptr ? static_cast<int64_t>(in[1]->values.at(0)) : 0;
    const bool upper = int_attr(node, "upper", 1) != 0;
    const int64_t rows = x.shape[x.shape.size() - 2], cols = x.shape.back();
    OnnxConstant out = x;
    for (uint64_t i = 0; i < out.values.size(); ++i) {
      const auto c = static_cast<int64_t>(i % static_cast<uint64_t>(cols));
      const auto r =
          static_cast<int64_t>((i / static_cast<uint64_t>(cols)) % static_cast<uint64_t>(rows));
      const bool keep = upper ? c - r >= k : c - r <= k;
      if (!keep) out.values[i] = 0;
    }
    return out;
  }
  if (op == "MatMul") return matmul(need(in, 0), need(in, 1));
  if (op == "Transpose") {
    const OnnxConstant& x = need(in, 0);
    std::vector<int64_t> perm = ints_attr(node, "perm");
    if (perm.empty()) {
      for (size_t i = x.shape.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    }
    if (perm.size() != x.shape.size()) throw FoldError("perm does not fit the input's rank");
    Dims shape;
    for (int64_t p : perm) shape.push_back(x.shape.at(axis_of(p, x.shape.size())));
    const std::vector<uint64_t> st = strides(x.shape);
    return gather_by(x, shape, [&](const std::vector<int64_t>& pos) {
      uint64_t k = 0;
      for (size_t d = 0; d < perm.size(); ++d) {
        k += static_cast<uint64_t>(pos[d]) * st[static_cast<size_t>(perm[d])];
      }
      return k;
    });
  }
  throw FoldError("this op is not evaluated at import");
}

}  // namespace

OnnxConstant read_constant(const onnx::TensorProto& t) {
  OnnxConstant c;
  c.type = t.data_type();
  c.shape.assign(t.dims().begin(), t.dims().end());
  const uint64_t n = elements(c.shape);
  const std::string& raw = t.raw_data();
  switch (c.type) {
    case T::FLOAT:
      for (float v : t.float_data()) c.values.push_back(v);
      append_raw<float>(raw, c.values);
      break;
    case T::DOUBLE:
      for (double v : t.double_data()) c.values.push_back(v);
      append_raw<double>(raw, c.values);
      break;
    case T::INT64:
      for (int64_t v : t.int64_data()) c.values.push_back(static_cast<double>(v));
      append_raw<int64_t>(raw, c.values);
      break;
    case T::UINT64:
      for (uint64_t v : t.uint64_data()) c.values.push_back(static_cast<double>(v));
      append_raw<uint64_t>(raw, c.values);
      break;
    case T::INT32:
    case T::INT16:
    case T::INT8:
    case T::UINT16:
    case T::UINT8:
    case T::BOOL:
      for (int32_t v : t.int32_data()) c.values.push_back(v);
      if (c.type == T::INT32) append_raw<int32_t>(raw, c.values);
      if (c.type == T::INT16) append_raw<int16_t>(raw, c.values);
      if (c.type == T::INT8) append_raw<int8_t>(raw, c.values);
      if (c.type == T::UINT16) append_raw<uint16_t>(raw, c.values);
      if (c.type == T::UINT8 || c.type == T::BOOL) append_raw<uint8_t>(raw, c.values);
      break;
    case T::UINT32:
      for (uint64_t v : t.uint64_data()) c.values.push_back(static_cast<double>(v));
      append_raw<uint32_t>(raw, c.values);
      break;
    default:
      throw FoldError(fmt::format("element type {} is not read at import",
                                  T::DataType_IsValid(c.type)
                                      ? T::DataType_Name(static_cast<T::DataType>(c.type))
                                      : std::to_string(c.type)));
  }
  if (t.data_location() == T::EXTERNAL) throw FoldError("its data is in an external file");
  if (c.values.size() != n) {
    throw FoldError(fmt::format("it has {} values for its shape [{}] of {}", c.values.size(),
                                fmt::join(c.shape, ", "), n));
  }
  return c;
}

bool foldable(const std::string& op) {
  static const std::vector<std::string> ops = {"Add",         "Sub",       "Mul",
                                               "Div",         "Pow",       "Max",
                                               "Min",         "Equal",     "Less",
                                               "LessOrEqual", "Greater",   "GreaterOrEqual",
                                               "And",         "Or",        "Not",
                                               "Neg",         "Sqrt",      "Cos",
                                               "Sin",         "Exp",       "Reciprocal",
                                               "Abs",         "Floor",     "Ceil",
                                               "Erf",         "Tanh",      "Sigmoid",
                                               "Relu",        "Identity",  "Where",
                                               "Cast",        "Shape",     "ConstantOfShape",
                                               "Expand",      "Unsqueeze", "Squeeze",
                                               "Reshape",     "Flatten",   "Concat",
                                               "Slice",       "Gather",    "Range",
                                               "CumSum",      "Trilu",     "MatMul",
                                               "Transpose"};
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

OnnxConstant fold(const onnx::NodeProto& node, const std::vector<const OnnxConstant*>& inputs,
                  int64_t opset) {
  OnnxConstant out = fold_op(node, inputs, opset);
  elements(out.shape);
  return out;
}

}  // namespace npusim::compiler

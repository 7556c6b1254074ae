#include "sim/functional_data.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "common/dtype.h"
#include "common/elements.h"
#include "common/error.h"
#include "compiler/graph_util.h"
#include "compiler/lowering/weight_packing.h"

namespace npusim::sim {
namespace {

// FNV-1a: a stable hash of the name (std::hash is not the same everywhere).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::vector<float> seeded_values(const Tensor& tensor, uint64_t seed, float low, float high) {
  std::mt19937_64 rng(fnv1a(tensor.name()) ^ (seed * 0x9e3779b97f4a7c15ull));
  const uint64_t n = compiler::num_elements(tensor);
  std::vector<float> v;
  v.reserve(n);  // not zeroed first: a layer's weights are hundreds of MB
  const float step = (high - low) * (1.0f / 16777216.0f);
  for (uint64_t i = 0; i < n; i += 2) {
    // 24 bits as a fraction in [0, 1) (exact in a float), two per draw.
    const uint64_t bits = rng();
    v.push_back(low + step * static_cast<float>((bits >> 40) & 0xffffff));
    if (i + 1 < n) v.push_back(low + step * static_cast<float>((bits >> 16) & 0xffffff));
  }
  round_elements(tensor.dtype(), v.data(), n);
  return v;
}

compiler::TensorValues seeded_inputs(const Graph& graph, uint64_t seed) {
  // A tensor read before any node produces it (a KV cache KV_APPEND
  // updates in place included), or never produced.
  std::set<std::string> produced, inputs;
  // A quantised weight's scales, and the rows of the weight they scale.
  std::map<std::string, std::pair<float, float>> scales;  // rows, largest integer
  const compiler::TensorIndex tensors(graph);
  for (const Node& n : graph.nodes()) {
    for (const std::string& in : n.inputs()) {
      if (produced.count(in) == 0) inputs.insert(in);
    }
    produced.insert(n.outputs().begin(), n.outputs().end());
    if (n.op() == MATMUL && n.inputs_size() == 3) {
      const Tensor& w = tensors.at(n.inputs(1), n.name());
      const bool t = compiler::attr_int(n, "weight_transposed", 0) != 0;
      scales[n.inputs(2)] = {static_cast<float>(w.shape(t ? 1 : 0)),
                             w.dtype() == INT4 ? 8.0f : 128.0f};
    }
  }
  compiler::TensorValues values;
  for (const Tensor& t : graph.tensors()) {
    if (!t.alias_of().empty()) continue;  // a view: its values are its base's
    if (inputs.count(t.name()) == 0 && produced.count(t.name()) != 0) continue;
    // Weights spread as 1 / sqrt(rows), so that a product keeps the input's
    // scale; quantised ones take every integer their type holds and scales
    // that bring them there; everything else in [-1, 1).
    const float rows = t.tensor_class() == WEIGHT && t.shape_size() >= 2
                           ? static_cast<float>(t.shape(t.shape_size() - 2))
                           : 1.0f;
    float low = -1, high = 1;
    if (auto it = scales.find(t.name()); it != scales.end()) {
      const auto [k, largest] = it->second;
      low = 0.5f / (largest * std::sqrt(k));
      high = 1.5f / (largest * std::sqrt(k));
    } else if (t.dtype() == INT8 || t.dtype() == INT4) {
      high = t.dtype() == INT8 ? 127.5f : 7.5f;
      low = -high - 1;  // -128 or -8 after rounding
    } else {
      low = -1 / std::sqrt(rows);
      high = 1 / std::sqrt(rows);
    }
    values[t.name()] = seeded_values(t, seed, low, high);
  }
  return values;
}

void write_tensor(arch::MemoryImage& image, const Tensor& tensor,
                  const std::vector<float>& values) {
  if (values.size() != compiler::num_elements(tensor)) {
    throw UserError(fmt::format("tensor '{}': {} values for its {} elements", tensor.name(),
                                values.size(), compiler::num_elements(tensor)));
  }
  require_functional_dtype(tensor.dtype(), "tensor '" + tensor.name() + "'");
  // In chunks (an even count of elements: whole INT4 bytes).
  constexpr uint64_t kChunk = uint64_t{1} << 18;
  std::vector<uint8_t> bytes(
      dtype_bytes(tensor.dtype(), std::min<uint64_t>(kChunk, values.size())));
  for (uint64_t first = 0; first < values.size(); first += kChunk) {
    const uint64_t n = std::min<uint64_t>(kChunk, values.size() - first);
    const uint64_t size = dtype_bytes(tensor.dtype(), n);
    encode_elements(tensor.dtype(), values.data() + first, n, bytes.data());
    image.write(tensor.address() + dtype_bytes(tensor.dtype(), first), bytes.data(), size);
  }
}

void write_inputs(arch::MemoryImage& image, const Graph& tiled,
                  const compiler::TensorValues& values) {
  const compiler::TensorIndex tensors(tiled);
  const std::map<std::string, compiler::WeightPacking> packed = compiler::packed_weights(tiled);
  for (const auto& [name, v] : values) {
    const Tensor& t = tensors.at(name, "inputs");
    auto p = packed.find(name);
    if (p == packed.end()) {
      write_tensor(image, t, v);
    } else {
      const auto k = static_cast<uint64_t>(t.shape(0)), n = static_cast<uint64_t>(t.shape(1));
      write_tensor(image, t, compiler::pack_weight(v, k, n, p->second));
    }
  }
}

std::vector<float> read_tensor(const arch::MemoryImage& image, const Tensor& tensor) {
  require_functional_dtype(tensor.dtype(), "tensor '" + tensor.name() + "'");
  const uint64_t n = compiler::num_elements(tensor);
  std::vector<uint8_t> bytes(dtype_bytes(tensor.dtype(), n));
  image.read(tensor.address(), bytes.data(), bytes.size());
  std::vector<float> v(n);
  decode_elements(tensor.dtype(), bytes.data(), n, v.data());
  return v;
}

}  // namespace npusim::sim

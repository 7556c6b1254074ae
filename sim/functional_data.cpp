#include "sim/functional_data.h"

#include <fmt/format.h>

#include <cmath>
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

std::vector<float> seeded_values(const Tensor& tensor, uint64_t seed) {
  std::mt19937_64 rng(fnv1a(tensor.name()) ^ (seed * 0x9e3779b97f4a7c15ull));
  const uint64_t n = compiler::num_elements(tensor);
  const float scale =
      tensor.tensor_class() == WEIGHT && tensor.shape_size() >= 2
          ? 1.0f / std::sqrt(static_cast<float>(tensor.shape(tensor.shape_size() - 2)))
          : 1.0f;
  std::vector<float> v;
  v.reserve(n);  // not zeroed first: a layer's weights are hundreds of MB
  uint64_t bits = 0;
  for (uint64_t i = 0; i < n; ++i) {
    // 24 bits as a fraction in [0, 1) (exact in a float), two per draw.
    if (i % 2 == 0) bits = rng();
    const auto u = static_cast<float>((i % 2 == 0 ? bits >> 40 : bits >> 16) & 0xffffff) *
                   (1.0f / 16777216.0f);
    v.push_back(round_to(tensor.dtype(), (2.0f * u - 1.0f) * scale));
  }
  return v;
}

compiler::TensorValues seeded_inputs(const Graph& graph, uint64_t seed) {
  // A tensor read before any node produces it (a KV cache KV_APPEND
  // updates in place included), or never produced.
  std::set<std::string> produced, inputs;
  for (const Node& n : graph.nodes()) {
    for (const std::string& in : n.inputs()) {
      if (produced.count(in) == 0) inputs.insert(in);
    }
    produced.insert(n.outputs().begin(), n.outputs().end());
  }
  compiler::TensorValues values;
  for (const Tensor& t : graph.tensors()) {
    if (!t.alias_of().empty()) continue;  // a view: its values are its base's
    if (inputs.count(t.name()) != 0 || produced.count(t.name()) == 0) {
      values[t.name()] = seeded_values(t, seed);
    }
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
  const std::map<std::string, uint64_t> packed = compiler::packed_weights(tiled);
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

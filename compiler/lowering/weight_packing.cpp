#include "compiler/lowering/weight_packing.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"

namespace npusim::compiler {

std::vector<float> pack_weight(const std::vector<float>& kn, uint64_t k, uint64_t n, uint64_t tn) {
  std::vector<float> packed;
  packed.reserve(kn.size());
  for (uint64_t n0 = 0; n0 < n; n0 += tn) {
    const uint64_t width = std::min(tn, n - n0);
    for (uint64_t row = 0; row < k; ++row) {
      const auto from = kn.begin() + static_cast<std::ptrdiff_t>(row * n + n0);
      packed.insert(packed.end(), from, from + static_cast<std::ptrdiff_t>(width));
    }
  }
  return packed;
}

std::map<std::string, uint64_t> packed_weights(const Graph& tiled) {
  std::map<std::string, uint64_t> tn;
  for (const Node& node : tiled.nodes()) {
    auto it = node.attrs().find(kPackedTnAttr);
    if (it == node.attrs().end()) continue;
    const auto width = static_cast<uint64_t>(it->second.i());
    const auto [at, added] = tn.emplace(node.inputs(1), width);
    if (!added && at->second != width) {
      throw UserError(fmt::format(
          "compiler: weight '{}' is packed in blocks of {} columns for one node and {} for node "
          "'{}'; one layout in memory cannot serve both",
          node.inputs(1), at->second, width, node.name()));
    }
  }
  return tn;
}

}  // namespace npusim::compiler

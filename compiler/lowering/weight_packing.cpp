#include "compiler/lowering/weight_packing.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "common/error.h"
#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

namespace {
constexpr const char* kPackedTn = "weight.packed_tn";
constexpr const char* kPackedTk = "weight.packed_tk";
constexpr const char* kPackedGroup = "weight.packed_group";
}  // namespace

uint64_t WeightPacking::tile_offset(uint64_t k, uint64_t n, uint64_t k0, uint64_t n0) const {
  const uint64_t width = group * tn;
  const uint64_t g0 = n0 / width * width;
  return g0 * k + k0 * std::min(width, n - g0) + (n0 - g0) * std::min(tk, k - k0);
}

void note_packing(const WeightPacking& packing, LoweringContext& ctx) {
  ctx.note(kPackedTn, static_cast<int64_t>(packing.tn));
  ctx.note(kPackedTk, static_cast<int64_t>(packing.tk));
  ctx.note(kPackedGroup, static_cast<int64_t>(packing.group));
}

std::vector<float> pack_weight(const std::vector<float>& kn, uint64_t k, uint64_t n,
                               const WeightPacking& p) {
  std::vector<float> packed;
  packed.reserve(kn.size());
  const uint64_t width = p.group * p.tn;
  for (uint64_t g0 = 0; g0 < n; g0 += width) {
    const uint64_t g_end = std::min(n, g0 + width);
    for (uint64_t k0 = 0; k0 < k; k0 += p.tk) {
      for (uint64_t n0 = g0; n0 < g_end; n0 += p.tn) {
        const uint64_t cols = std::min(p.tn, n - n0);
        for (uint64_t row = k0; row < std::min(k, k0 + p.tk); ++row) {
          const auto from = kn.begin() + static_cast<std::ptrdiff_t>(row * n + n0);
          packed.insert(packed.end(), from, from + static_cast<std::ptrdiff_t>(cols));
        }
      }
    }
  }
  return packed;
}

std::map<std::string, WeightPacking> packed_weights(const Graph& tiled) {
  std::map<std::string, WeightPacking> out;
  for (const Node& node : tiled.nodes()) {
    auto tn = node.attrs().find(kPackedTn);
    if (tn == node.attrs().end()) continue;
    // (note_packing() writes all three.)
    const auto get = [&](const char* key) {
      auto it = node.attrs().find(key);
      if (it == node.attrs().end()) {
        throw std::logic_error(
            fmt::format("tiled node '{}' has {} but not {}", node.name(), kPackedTn, key));
      }
      return static_cast<uint64_t>(it->second.i());
    };
    const WeightPacking packing{static_cast<uint64_t>(tn->second.i()), get(kPackedTk),
                                get(kPackedGroup)};
    const auto [at, added] = out.emplace(node.inputs(1), packing);
    if (!added && !(at->second == packing)) {
      throw UserError(fmt::format(
          "compiler: weight '{}' is packed in tiles of {} x {} columns, {} blocks to a group, for "
          "one node and {} x {}, {} to a group, for node '{}'; one layout in memory cannot serve "
          "both",
          node.inputs(1), at->second.tk, at->second.tn, at->second.group, packing.tk, packing.tn,
          packing.group, node.name()));
    }
  }
  return out;
}

}  // namespace npusim::compiler

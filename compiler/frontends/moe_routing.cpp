#include "compiler/frontends/moe_routing.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace npusim::compiler {

std::vector<std::vector<uint32_t>> moe_routing(uint64_t seed, uint64_t layer, uint64_t batch,
                                               uint32_t experts, uint32_t top_k) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + layer);
  std::vector<std::vector<uint32_t>> out(batch);
  std::vector<uint32_t> ids(experts);
  for (auto& chosen : out) {
    std::iota(ids.begin(), ids.end(), 0u);
    // A partial Fisher-Yates shuffle: the first top_k are a uniform choice.
    for (uint32_t i = 0; i < top_k; ++i) {
      const auto j = i + static_cast<uint32_t>(rng() % (experts - i));
      std::swap(ids[i], ids[j]);
    }
    chosen.assign(ids.begin(), ids.begin() + top_k);
    std::sort(chosen.begin(), chosen.end());
  }
  return out;
}

}  // namespace npusim::compiler

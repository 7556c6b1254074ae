// Mixture-of-experts routing for simulation: which experts each token of a
// decode step uses, drawn from a seed (npusim moves no data, so it cannot
// run the router). The same seed, layer and batch give the same choice.
#pragma once

#include <cstdint>
#include <vector>

namespace npusim::compiler {

// For each of `batch` tokens, `top_k` distinct experts out of `experts`.
[[nodiscard]] std::vector<std::vector<uint32_t>> moe_routing(uint64_t seed, uint64_t layer,
                                                             uint64_t batch, uint32_t experts,
                                                             uint32_t top_k);

}  // namespace npusim::compiler

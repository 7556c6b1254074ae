// Latency summaries for reports.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/memory.pb.h"

namespace npusim::memory {

// From a histogram whose bucket i holds samples of i units of `ns_per_unit`.
[[nodiscard]] LatencyStats latency_from_histogram(const std::vector<uint64_t>& histogram,
                                                  double ns_per_unit);
// From samples in ns (reordered in place).
[[nodiscard]] LatencyStats latency_from_samples(std::vector<double>& samples_ns);

}  // namespace npusim::memory

// Latency summaries for reports.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/memory.pb.h"

namespace npusim::memory {

// A log-linear latency histogram (as HdrHistogram): values below 256 units
// have a bucket each; above, every power of two is split into 64 buckets, so
// a value is known to 1/64 (1.6%) of itself and any uint64 fits in
// kLatencyBuckets buckets. (Loaded DRAM latencies of a few hundred clocks
// then fall in a few hundred buckets, which stay in cache for every channel.)
inline constexpr size_t kLatencyBuckets = 256 + 56 * 64;
namespace latency_detail {
inline constexpr unsigned kSubBits = 6;                // 64 buckets per power of two
inline constexpr uint64_t kLinear = uint64_t{1} << 8;  // exact below this
inline constexpr unsigned kLinearBits = 8;
}  // namespace latency_detail
// (Inline: a DRAM channel counts every row it serves.)
[[nodiscard]] inline size_t latency_bucket(uint64_t v) {
  using namespace latency_detail;
  if (v < kLinear) return static_cast<size_t>(v);
  const auto e = static_cast<unsigned>(63 - __builtin_clzll(v));  // e >= kLinearBits
  const uint64_t sub = (v >> (e - kSubBits)) & ((uint64_t{1} << kSubBits) - 1);
  return static_cast<size_t>(kLinear + (e - kLinearBits) * (uint64_t{1} << kSubBits) + sub);
}
// The middle of the values bucket `b` holds (exact below 256).
[[nodiscard]] double latency_bucket_value(size_t b);

// From a histogram of latency_bucket()s, in units of `ns_per_unit`.
[[nodiscard]] LatencyStats latency_from_histogram(const std::vector<uint64_t>& histogram,
                                                  double ns_per_unit);
// From samples in ns (reordered in place).
[[nodiscard]] LatencyStats latency_from_samples(std::vector<double>& samples_ns);

}  // namespace npusim::memory

#include "memory/latency.h"

#include <algorithm>
#include <cmath>

namespace npusim::memory {

using latency_detail::kLinear;
using latency_detail::kLinearBits;
using latency_detail::kSubBits;

double latency_bucket_value(size_t b) {
  if (b < kLinear) return static_cast<double>(b);
  const uint64_t i = b - kLinear;
  const unsigned e = kLinearBits + static_cast<unsigned>(i >> kSubBits);
  const uint64_t sub = i & ((uint64_t{1} << kSubBits) - 1);
  const uint64_t width = uint64_t{1} << (e - kSubBits);
  return static_cast<double>((((uint64_t{1} << kSubBits) + sub) * width)) +
         static_cast<double>(width - 1) / 2;
}

LatencyStats latency_from_histogram(const std::vector<uint64_t>& h, double ns_per_unit) {
  LatencyStats out;
  uint64_t count = 0;
  double sum = 0;
  size_t max = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i] == 0) continue;
    count += h[i];
    sum += static_cast<double>(h[i]) * latency_bucket_value(i);
    max = i;
  }
  out.set_count(count);
  if (count == 0) return out;
  out.set_mean_ns(sum / static_cast<double>(count) * ns_per_unit);
  out.set_max_ns(latency_bucket_value(max) * ns_per_unit);
  // Nearest-rank percentiles.
  auto percentile = [&](double p) {
    const auto rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(count)));
    uint64_t seen = 0;
    for (size_t i = 0; i < h.size(); ++i) {
      seen += h[i];
      if (seen >= rank) return latency_bucket_value(i) * ns_per_unit;
    }
    return latency_bucket_value(max) * ns_per_unit;
  };
  out.set_p50_ns(percentile(0.50));
  out.set_p99_ns(percentile(0.99));
  return out;
}

LatencyStats latency_from_samples(std::vector<double>& s) {
  LatencyStats out;
  out.set_count(s.size());
  if (s.empty()) return out;
  double sum = 0;
  for (double v : s) sum += v;
  out.set_mean_ns(sum / static_cast<double>(s.size()));
  auto percentile = [&](double p) {
    const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(s.size())));
    const size_t k = std::max<size_t>(rank, 1) - 1;
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    return s[k];
  };
  out.set_p50_ns(percentile(0.50));
  out.set_p99_ns(percentile(0.99));
  out.set_max_ns(*std::max_element(s.begin(), s.end()));
  return out;
}

}  // namespace npusim::memory

// The compiler's model of how fast the DMA streams a transfer from memory
// (Target::stream_bytes_per_cycle): a closed queueing network solved by
// mean value analysis (Reiser and Lavenberg, 1980). A request split over k
// channels is approximated by one part's time at one channel (fork-join
// ignored), exact for requests within one channel's granule.
#include <algorithm>
#include <cmath>

#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

double Target::stream_bytes_per_cycle(uint64_t row_bytes) const {
  if (row_bytes == 0 || memory_bytes_per_cycle <= 0) return memory_bytes_per_cycle;
  const auto request = static_cast<double>(std::min(row_bytes, dma_max_request_bytes));
  const std::array<double, 8> fields = {memory_bytes_per_cycle,
                                        memory_peak_bytes_per_cycle,
                                        memory_latency_cycles,
                                        static_cast<double>(memory_channels),
                                        static_cast<double>(memory_granule_bytes),
                                        static_cast<double>(dma_outstanding),
                                        static_cast<double>(dma_max_request_bytes),
                                        static_cast<double>(dma_outstanding_bytes)};
  if (fields != stream_cache_for_) {
    stream_cache_.clear();
    stream_cache_for_ = fields;
  }
  if (auto it = stream_cache_.find(row_bytes); it != stream_cache_.end()) return it->second;

  const bool channels = memory_granule_bytes > 0 && memory_channels > 1;
  const double c = channels ? static_cast<double>(memory_channels) : 1.0;
  const double per_channel =
      (memory_peak_bytes_per_cycle > 0 ? memory_peak_bytes_per_cycle : memory_bytes_per_cycle) / c;
  // The channels a request's bytes reach, and its part at each.
  const double k =
      channels ? std::clamp(std::ceil(request / static_cast<double>(memory_granule_bytes)), 1.0, c)
               : 1.0;
  const double service = request / k / per_channel;
  // The latency estimate holds one granule's transfer at its channel; the
  // rest is a delay no request waits for another in.
  const double granule = channels ? static_cast<double>(memory_granule_bytes) / per_channel : 0.0;
  const double delay = std::max(0.0, memory_latency_cycles - granule);
  // Requests in flight: the slots, or as many as the bytes in flight allow.
  uint32_t in_flight = std::max<uint32_t>(1, dma_outstanding);
  if (dma_outstanding_bytes > 0) {
    in_flight = static_cast<uint32_t>(std::clamp<double>(
        std::floor(static_cast<double>(dma_outstanding_bytes) / request), 1.0, in_flight));
  }
  // n requests in flight: a part's time at a channel is its service plus
  // the queue it finds (a part arrives at a given channel k / C of the time).
  double queue = 0, throughput = 0;
  for (uint32_t n = 1; n <= in_flight; ++n) {
    const double residence = service * (1.0 + queue);
    throughput = n / (delay + residence);
    queue = throughput * (k / c) * residence;
  }
  const double bytes = std::min(memory_bytes_per_cycle, throughput * request);
  stream_cache_.emplace(row_bytes, bytes);
  return bytes;
}

}  // namespace npusim::compiler

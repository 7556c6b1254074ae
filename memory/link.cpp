#include "memory/link.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace npusim::memory {

Link::Link(const LinkConfig& config)
    : config_(config),
      ps_per_byte_(1e3 / config.bandwidth_gbps()),  // 1 GB/s = 1 byte/ns
      latency_ps_(static_cast<uint64_t>(std::llround(config.latency_ns() * 1e3))) {}

uint64_t Link::cross(Direction& d, uint64_t t_ps, uint64_t bytes) {
  const uint64_t wire = bytes + config_.header_bytes();
  // Fractional ps, so that rounding never accumulates over a stream.
  const double start = std::max(static_cast<double>(t_ps), d.free_ps);
  d.free_ps = start + static_cast<double>(wire) * ps_per_byte_;
  if (ledger_ != nullptr) {
    ledger_->add(d.column, static_cast<uint64_t>(start), static_cast<uint64_t>(d.free_ps),
                 static_cast<double>(wire));
  }
  d.bytes += wire;
  return static_cast<uint64_t>(std::ceil(d.free_ps - 1e-6)) + latency_ps_;
}

uint64_t Link::to_memory(uint64_t t_ps, uint64_t bytes) {
  ++transactions_;
  return cross(to_, t_ps, bytes);
}

uint64_t Link::from_memory(uint64_t t_ps, uint64_t bytes) {
  return cross(from_, t_ps, bytes);
}

void Link::register_resources(ResourceLedger& ledger) {
  ledger_ = &ledger;
  const double per_ps = config_.bandwidth_gbps() * 1e-3;
  const std::string note = fmt::format("{} GB/s per direction", config_.bandwidth_gbps());
  to_.column = ledger.add_resource(
      {config_.name() + " to memory", ResourcePath::Memory, "B", per_ps, note, ""});
  from_.column = ledger.add_resource(
      {config_.name() + " from memory", ResourcePath::Memory, "B", per_ps, note, ""});
}

double Link::energy_joules() const {
  return static_cast<double>(to_.bytes + from_.bytes) * 8 * config_.pj_per_bit() * 1e-12;
}

}  // namespace npusim::memory

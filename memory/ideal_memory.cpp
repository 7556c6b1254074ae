#include "memory/ideal_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/ranges.h"
#include "memory/registry.h"

namespace npusim::memory {

IdealMemory::IdealMemory(const sc_core::sc_module_name& name, const IdealMemoryConfig& config,
                         uint64_t capacity_bytes)
    : MemoryModel(name),
      bandwidth_gbps_(config.bandwidth_gbps()),
      ps_per_byte_(1e3 / config.bandwidth_gbps()),  // 1 GB/s = 1 byte/ns
      latency_ps_(config.latency_ns() * 1e3),
      pj_per_bit_(config.has_pj_per_bit() ? config.pj_per_bit() : 3.9),
      capacity_bytes_(capacity_bytes) {}

void IdealMemory::energy(double seconds, MemoryEnergy* out) const {
  (void)seconds;
  out->set_read_write(static_cast<double>(bytes_) * 8 * pj_per_bit_ * 1e-12);
  out->set_total(out->read_write());
}

void IdealMemory::register_resources(ResourceLedger& ledger) {
  ledger_ = &ledger;
  bus_ = ledger.add_resource({resource_name("memory bus"), ResourcePath::Memory, "B",
                              bandwidth_gbps_ * 1e-3, fmt::format("{} GB/s", bandwidth_gbps_), ""});
}

void IdealMemory::accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) {
  // Programs are checked against the capacity before they run; a transfer
  // that still falls outside it is refused, as a real target would.
  const uint64_t first = trans.get_address(), bytes = trans.get_data_length();
  if (capacity_bytes_ != 0 && (first > capacity_bytes_ || bytes > capacity_bytes_ - first)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    respond(trans, arrival_ps);
    return;
  }
  // The bus is tracked in fractional ps so that rounding never accumulates
  // over a stream.
  const double start_ps = std::max(static_cast<double>(arrival_ps), bus_free_ps_);
  bus_free_ps_ = start_ps + trans.get_data_length() * ps_per_byte_;
  bytes_ += trans.get_data_length();
  if (ledger_ != nullptr) {
    ledger_->add(bus_, static_cast<uint64_t>(start_ps), static_cast<uint64_t>(bus_free_ps_),
                 trans.get_data_length());
  }
  // Completion at the next whole ps (tolerating float noise below 1e-6 ps).
  const auto end = static_cast<uint64_t>(std::ceil(bus_free_ps_ + latency_ps_ - 1e-6));
  if (traffic_sink_ != nullptr) traffic_sink_->transferred(0, end, trans.get_data_length());
  respond(trans, end);
}

namespace {
void validate(const MemoryConfig& config, const std::string& where, const std::string& path) {
  check_ranges(config, where, path);  // memory.proto declares every field's range
}
}  // namespace

NPUSIM_REGISTER_MEMORY(
    ideal, (MemoryModelEntry{
               validate,
               [](const sc_core::sc_module_name& name,
                  const MemoryConfig& config) -> std::unique_ptr<MemoryModel> {
                 return std::make_unique<IdealMemory>(name, config.ideal(),
                                                      config.capacity_bytes());
               },
               [](const MemoryConfig& config) { return config.ideal().bandwidth_gbps(); },
               [](const MemoryConfig& config) { return config.capacity_bytes(); },
               [](const MemoryConfig& config) { return config.ideal().latency_ns(); },
           }));

}  // namespace npusim::memory

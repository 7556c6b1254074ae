// Ideal memory: a fixed latency and one shared bandwidth, no banks or rows.
// A transfer of B bytes arriving at t starts at max(t, end of the previous
// transfer) and completes latency + B / bandwidth after it starts. A
// transfer past capacity_bytes (when set) gets TLM_ADDRESS_ERROR_RESPONSE.
#pragma once

#include "memory/memory.pb.h"
#include "memory/memory_model.h"

namespace npusim::memory {

class IdealMemory : public MemoryModel {
 public:
  // capacity_bytes 0: no limit.
  IdealMemory(const sc_core::sc_module_name& name, const IdealMemoryConfig& config,
              uint64_t capacity_bytes = 0);

  [[nodiscard]] double peak_bandwidth_gbps() const override { return bandwidth_gbps_; }
  // Every bit moved costs pj_per_bit (all of it counted as read/write),
  // counted when the request is accepted: at most the DMA's requests in
  // flight ahead of their transfer.
  void energy(double seconds, MemoryEnergy* out) const override;
  // "memory bus": bytes over its bandwidth.
  void register_resources(ResourceLedger& ledger) override;

 protected:
  void accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) override;

 private:
  double bandwidth_gbps_;
  double ps_per_byte_;
  double latency_ps_;
  double bus_free_ps_ = 0.0;  // when the data bus finishes its last transfer
  double pj_per_bit_;
  uint64_t capacity_bytes_;
  uint64_t bytes_ = 0;  // moved so far
  ResourceLedger* ledger_ = nullptr;
  ResourceLedger::Column bus_ = 0;
};

}  // namespace npusim::memory

// The memory subsystem as the NPU sees it: one TLM-2.0 target socket.
// Every model (ideal, DRAM, PIM, tiers) derives from MemoryModel and is
// created through the registry (registry.h) from a MemoryConfig.
#pragma once

#include <tlm_utils/simple_target_socket.h>
#include <cstdint>
#include <systemc>
#include <tlm>

namespace npusim::memory {

struct MemoryStats {
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t transactions = 0;
};

class MemoryModel : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryModel> socket;

  explicit MemoryModel(const sc_core::sc_module_name& name);
  ~MemoryModel() override = default;

  // Loosely timed access: on entry `delay` is the initiator's local time
  // offset at which the request arrives; on return it is the offset at which
  // the transaction completes.
  virtual void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) = 0;

  [[nodiscard]] virtual double peak_bandwidth_gbps() const = 0;
  [[nodiscard]] const MemoryStats& stats() const { return stats_; }

 protected:
  void count(const tlm::tlm_generic_payload& trans);

 private:
  void dispatch(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    b_transport(trans, delay);
  }
  MemoryStats stats_;
};

}  // namespace npusim::memory

// A link between the NPU and a memory behind it (NVLink-C2C, CXL on PCIe):
// two directions, each carrying the bytes that cross it one transaction
// after another at the link's bandwidth, and a flight latency each way.
// A transaction that finds its direction busy waits for it, so contention
// between the streams that share the link, and the far memory's extra
// latency, emerge from the traffic. Each direction is a resource the
// limiter accounting can name.
#pragma once

#include <cstdint>
#include <string>

#include "common/resources.h"
#include "memory/memory.pb.h"

namespace npusim::memory {

class Link {
 public:
  explicit Link(const LinkConfig& config);

  // `bytes` (the payload: a write's data, or nothing for a read's request)
  // enter the direction toward the memory at `t_ps`: when they reach it, ps.
  uint64_t to_memory(uint64_t t_ps, uint64_t bytes);
  // The same for the response (a read's data) leaving the memory.
  uint64_t from_memory(uint64_t t_ps, uint64_t bytes);

  void register_resources(ResourceLedger& ledger);

  struct Stats {
    uint64_t transactions = 0;
    uint64_t bytes_to_memory = 0, bytes_from_memory = 0;  // payload and headers
  };
  [[nodiscard]] Stats stats() const { return {transactions_, to_.bytes, from_.bytes}; }
  [[nodiscard]] const LinkConfig& config() const { return config_; }
  // Joules spent carrying what crossed it so far.
  [[nodiscard]] double energy_joules() const;

 private:
  struct Direction {
    double free_ps = 0;
    ResourceLedger::Column column = 0;
    uint64_t bytes = 0;  // payload and headers carried
  };
  uint64_t cross(Direction& d, uint64_t t_ps, uint64_t bytes);

  LinkConfig config_;
  double ps_per_byte_;
  uint64_t latency_ps_;
  Direction to_, from_;
  ResourceLedger* ledger_ = nullptr;
  uint64_t transactions_ = 0;
};

}  // namespace npusim::memory

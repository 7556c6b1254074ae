// The counting semaphores of one core's program.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <systemc>
#include <vector>

#include "arch/isa.pb.h"

namespace npusim::arch {

class SemaphoreBank {
 public:
  explicit SemaphoreBank(const Program& program);

  [[nodiscard]] const Semaphore& info(uint32_t id) const { return *infos_[id]; }
  [[nodiscard]] uint32_t count(uint32_t id) const { return counts_[id]; }
  [[nodiscard]] sc_core::sc_event& changed(uint32_t id) { return events_[id]; }

  void take(const SemOp& op) {
    counts_[op.sem()] -= op.count();
    if (on_occupancy_ && infos_[op.sem()]->bytes() > 0) {
      in_use_bytes_ += infos_[op.sem()]->bytes() * op.count();
      on_occupancy_(in_use_bytes_);
    }
  }
  // When the semaphore was last given (ps; 0 if never).
  [[nodiscard]] uint64_t given_ps(uint32_t id) const { return given_ps_[id]; }

  void give(const SemOp& op) {
    counts_[op.sem()] += op.count();
    given_ps_[op.sem()] = sc_core::sc_time_stamp().value();
    events_[op.sem()].notify(sc_core::SC_ZERO_TIME);
    if (on_occupancy_ && infos_[op.sem()]->bytes() > 0) {
      in_use_bytes_ -= std::min(in_use_bytes_, infos_[op.sem()]->bytes() * op.count());
      on_occupancy_(in_use_bytes_);
    }
  }
  // Calls `report` with the scratchpad bytes in use (buffers whose
  // BUFFER_FREE semaphore is taken) whenever that changes.
  void observe_occupancy(std::function<void(uint64_t)> report) {
    on_occupancy_ = std::move(report);
  }

 private:
  std::vector<const Semaphore*> infos_;
  std::vector<uint32_t> counts_;
  std::vector<uint64_t> given_ps_;
  std::deque<sc_core::sc_event> events_;  // sc_event is not movable
  std::function<void(uint64_t)> on_occupancy_;
  uint64_t in_use_bytes_ = 0;
};

}  // namespace npusim::arch

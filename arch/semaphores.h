// The counting semaphores of one core's program.
#pragma once

#include <cstdint>
#include <deque>
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

  void take(const SemOp& op) { counts_[op.sem()] -= op.count(); }
  void give(const SemOp& op) {
    counts_[op.sem()] += op.count();
    events_[op.sem()].notify(sc_core::SC_ZERO_TIME);
  }

 private:
  std::vector<const Semaphore*> infos_;
  std::vector<uint32_t> counts_;
  std::deque<sc_core::sc_event> events_;  // sc_event is not movable
};

}  // namespace npusim::arch

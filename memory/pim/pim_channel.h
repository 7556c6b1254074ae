// The PIM side of one channel: the GEMVs queued for it, planned as PIM
// commands into the channel controller's timing state once the controller
// hands the channel over (dram::ExclusiveWork). Per GEMV:
//
//   [mode switch in: ACT-PRE pairs to a reserved row]
//   per pass of vectors (as many as the buffer holds rows of input for),
//     per batch of chunks (the rest of the buffer),
//       WRGB  the batch's input chunks, one burst each on the data bus
//       per group of output rows (one per bank):
//         per chunk of the batch: ACTAB, MACAB x columns x banks per unit
//           x vectors (nCCDAB apart; none before the input is in), PREA
//         RDRES the group's results (banks x vectors elements)
//   [mode switch out]
//
// A row's MACABs walk the columns its chunk fills. The channel stays in PIM
// mode from one GEMV to the next queued behind it (the controller serves no
// ordinary access while PIM work is queued either way).
//
// A row (ACTAB .. PREA), a broadcast and a readout are each planned in one
// step, at their earliest clocks, up to kPlanWindow clocks ahead; only the
// last command of a run goes into the timing state (later constraints follow
// from it), as on the DRAM's row-granular fast path. An all-bank refresh
// falling due stops the planning before the row that would straddle it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "common/resources.h"
#include "memory/dram/channel_controller.h"
#include "memory/pim/pim_spec.h"

namespace npusim::memory::pim {

struct PimJob {
  uint32_t request = 0;  // the owner's id, passed back when done
  uint64_t arrival = 0;  // clock
  uint32_t base_row = 0;
  uint32_t groups = 0;        // groups of output rows this channel computes
  uint32_t chunks = 0;        // DRAM rows (input chunks) per group
  uint32_t last_columns = 0;  // columns the last chunk fills (the others: all)
  uint32_t vectors = 1;
  uint32_t element_bytes = 2;
};

struct PimChannelStats {
  uint64_t gemvs = 0, mode_switches = 0, macs = 0, busy_cycles = 0;
};

class PimChannel : public dram::ExclusiveWork {
 public:
  // `done(request, clock)`: the job's last result data has moved at `clock`.
  using Done = std::function<void(uint32_t request, uint64_t clock)>;
  PimChannel(const PimSpec& spec, Done done);

  void push(const PimJob& job) { jobs_.push_back(job); }
  [[nodiscard]] bool pending() const override { return !jobs_.empty(); }
  uint64_t plan(dram::ChannelController& channel, uint64_t now) override;

  [[nodiscard]] const PimChannelStats& stats() const { return stats_; }
  // Where the MACs, the all-bank rows (ACTAB) and the data bus clocks
  // (WRGB, RDRES) are recorded.
  void set_resources(ResourceLedger* ledger, ResourceLedger::Column macs,
                     ResourceLedger::Column rows, ResourceLedger::Column bus) {
    ledger_ = ledger;
    macs_column_ = macs;
    rows_column_ = rows;
    bus_column_ = bus;
  }

 private:
  enum class Stage : uint8_t { Enter, Broadcast, Row, Readout, Exit };
  // Plans the current stage at or after `now`; false when it must wait
  // (for a refresh: `wait` is set).
  bool plan_stage(dram::ChannelController& ch, uint64_t now, uint64_t& wait);
  void mode_switch(dram::ChannelController& ch, uint64_t now);
  void bus(uint64_t first, uint64_t last, uint64_t bursts);
  // Job geometry.
  [[nodiscard]] uint32_t slots() const { return spec_.buffer_bytes / row_bytes_; }
  [[nodiscard]] uint32_t pass_vectors(const PimJob& j) const;
  [[nodiscard]] uint32_t batch_chunks(const PimJob& j) const;  // per batch, at most
  [[nodiscard]] uint32_t chunks_in_batch(const PimJob& j) const;
  // Columns of the chunk `c` (of the group's chunks).
  [[nodiscard]] uint32_t columns_of(const PimJob& j, uint32_t c) const;

  const PimSpec& spec_;
  Done done_;
  uint64_t row_bytes_;
  std::deque<PimJob> jobs_;
  // Where the front job is.
  Stage stage_ = Stage::Enter;
  bool pim_mode_ = false;
  uint32_t pass_ = 0, batch_ = 0, group_ = 0, chunk_ = 0;
  uint64_t started_ = 0;      // its first command's clock
  uint64_t input_ready_ = 0;  // the broadcast input is in the buffer
  uint64_t buffer_free_ = 0;  // after the last MACAB using the buffer
  uint64_t last_mac_ = 0;
  uint64_t finish_ = 0;   // the job's last data or command so far
  uint64_t horizon_ = 0;  // the latest command planned
  PimChannelStats stats_;
  ResourceLedger* ledger_ = nullptr;
  ResourceLedger::Column macs_column_ = 0, rows_column_ = 0, bus_column_ = 0;
};

}  // namespace npusim::memory::pim

// Energy and power of a run: per-event energies (core.energy in the system,
// the memory preset's energy) times the events the units and the memory
// counted while it ran, plus static power for the time. A PowerMeter samples
// the total as the simulation runs, for the peak power over short windows.
#pragma once

#include <cstdint>
#include <functional>
#include <systemc>
#include <vector>

#include "arch/npu_core.h"
#include "sim/memory_system.h"
#include "sim/report.pb.h"
#include "sim/system.pb.h"

namespace npusim::sim {

// What the run has spent up to some time, by component.
class EnergyCounter {
 public:
  // A chip's: its cores' and its memories'.
  EnergyCounter(const System& system, std::vector<const arch::NpuCore*> cores,
                const MemorySystem& memory);

  // The components after `seconds` of the run (names fixed, order fixed).
  [[nodiscard]] std::vector<EnergyComponent> components(double seconds) const;
  // The same split in two: the memory's components ("memory.*") and the rest.
  struct Split {
    double core = 0, memory = 0;
  };
  [[nodiscard]] Split split(double seconds) const;

 private:
  const EnergyConfig& config_;
  std::vector<const arch::NpuCore*> cores_;
  const MemorySystem& memory_;
  double array_static_w_, vector_static_w_, spm_static_w_;
};

// Samples the energy every `window` while the core runs and keeps the
// highest power of a window (see SimulationInput::power_window_us). Stops when the core has
// finished or nothing else is left to happen (a deadlock, reported by the caller).
class PowerMeter : public sc_core::sc_module {
 public:
  PowerMeter(const sc_core::sc_module_name& name, const EnergyCounter& counter,
             std::vector<const arch::NpuCore*> cores, sc_core::sc_time window);

  // Called with each window's power, W, of the core and of the memory.
  using Observer =
      std::function<void(uint64_t from_ps, uint64_t to_ps, double core_w, double memory_w)>;
  void observe(Observer observer) { observer_ = std::move(observer); }

  // Ends the run at `end_seconds` (the last window is the remainder; one
  // shorter than half a window counts toward no peak) and returns the peak
  // power, W.
  double finish(double end_seconds);

 private:
  void sample(double now);
  [[nodiscard]] sc_core::sc_time skip_idle(sc_core::sc_time next) const;

  SC_HAS_PROCESS(PowerMeter);
  void run();

  const EnergyCounter& counter_;
  std::vector<const arch::NpuCore*> cores_;
  sc_core::sc_event_or_list finished_;  // any queue of any core finished
  sc_core::sc_time window_;
  Observer observer_;
  double last_seconds_ = 0, peak_w_ = 0;
  EnergyCounter::Split last_;
};

// The report's energy: components, total, average and peak power, per token.
// Several chips: each component summed over their counters, the chip
// network's links as one more ("network.links"), the peak the sum of theirs.
void fill_energy(const std::vector<const EnergyCounter*>& counters, double network_joules,
                 double seconds, double peak_w, double window_us, uint64_t tokens, Energy* out);

}  // namespace npusim::sim

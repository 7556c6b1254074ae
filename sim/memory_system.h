// The memory side of a simulated system: one model per memory (created
// through the memory registry) and, when the system has several memories or
// one behind a link, the interconnect that routes to them (memory/
// interconnect.h). The core's DMA binds to socket(). With one memory and no
// link the DMA is bound to the model itself, as it always was.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/resources.h"
#include "memory/interconnect.h"
#include "memory/memory_model.h"
#include "sim/report.pb.h"
#include "sim/system.pb.h"

namespace npusim::sim {

class MemorySystem {
 public:
  explicit MemorySystem(const System& system);
  ~MemorySystem();
  MemorySystem(const MemorySystem&) = delete;
  MemorySystem& operator=(const MemorySystem&) = delete;

  [[nodiscard]] tlm::tlm_base_target_socket<>& socket();
  void register_resources(ResourceLedger& ledger);
  [[nodiscard]] std::vector<std::string> trace_lanes() const;
  void set_trace(memory::TrafficSink* sink);

  // Summed over the memories and links, from time 0 to `seconds`.
  void energy(double seconds, MemoryEnergy* out) const;
  [[nodiscard]] double peak_bandwidth_gbps() const;
  // The report's memory (one memory: its own counters; several: the energy
  // summed) and, with an interconnect, each memory's stats in `memories`.
  void report(const Program& program, Report* out) const;

  // Whether any memory sits behind a link (the energy has a link part).
  [[nodiscard]] bool has_links() const;
  [[nodiscard]] size_t size() const { return models_.size(); }
  [[nodiscard]] const memory::MemoryModel& model(size_t i) const { return *models_[i]; }

 private:
  // Memory i's link, or null.
  [[nodiscard]] const memory::Link* link(size_t i) const;
  // Memory i's energy with its link's.
  void memory_energy(size_t i, double seconds, MemoryEnergy* out) const;

  const System& system_;
  std::vector<std::unique_ptr<memory::MemoryModel>> models_;
  std::unique_ptr<memory::Interconnect> interconnect_;
  std::vector<std::unique_ptr<memory::TrafficSink>> lane_sinks_;
};

}  // namespace npusim::sim

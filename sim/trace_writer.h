// A timeline of a run as Chrome/Perfetto trace-event JSON (open it in
// ui.perfetto.dev or chrome://tracing), written while the simulation runs:
// the writer keeps only the bandwidth windows whose transfers may still
// arrive, so memory stays flat however long the run.
//
// Tracks, per chip (a process for each of its cores and one for its
// memories):
// - per queue (DMA, matrix, vector) of each core: the unit's activity, one slice
//   per span of one kind: "busy", or "stall: memory" / "stall: dependency" /
//   "stall: scratchpad space". Slices of a track never overlap; their sums
//   are the report's busy and stall cycles.
// - per queue, "<queue> instructions": one slice per instruction, from issue
//   to completion, named after its graph node (async slices: a DMA keeps many
//   transfers in flight, the arrays many tiles).
// - memory: bandwidth (GB/s) per stack (DRAM) or of the memory, per window.
// - "power W": the core's and the memory's power per power window
//   (--power-window-us), from the energy counted in it.
// - "busy %": each resource's busy share (common/resources.h) per window of
//   the resource ledger, written when the run ends; the limiter of a window
//   is the resource with the highest. A chip's links out (and its core's
//   port) are its resources: a track each.
// - core0 "scratchpad MiB": the most scratchpad in use in each window
//   (buffers between their first writer and their last reader; activations
//   forwarded on chip within one queue are not counted).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "arch/isa.pb.h"
#include "arch/trace_sink.h"
#include "memory/memory_model.h"
#include "sim/output_file.h"

namespace npusim::sim {

struct TraceOptions {
  std::string path;      // the JSON file
  uint64_t from_ps = 0;  // only what happens in [from, to)
  uint64_t to_ps = UINT64_MAX;
  int first_layer = -1;                  // instructions of decoder layers first..last only
  int last_layer = -1;                   // (-1: every instruction)
  uint64_t counter_window_ps = 1000000;  // bandwidth resolution, 1 us
};

class TraceWriter {
 public:
  // UserError naming the option when the file cannot be written.
  TraceWriter(const TraceOptions& options, const Program& program);
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // One chip's tracks: its core's units and instructions, scratchpad and
  // power (process "core0", or "chip<c> core0" of several chips), its
  // memories' bandwidth ("memory", or "chip<c> memory"), and the busy share
  // of each resource of its ledger, the chip links leaving it among them.
  class Chip : public arch::TraceSink, public memory::TrafficSink {
   public:
    Chip(TraceWriter& writer, uint32_t chip, uint32_t chips, uint32_t cores,
         std::vector<std::string> lanes);
    // Its core k's units and instructions (k = 0: this; the others'
    // processes "chip<c> core<k>" have no scratchpad or power counters).
    arch::TraceSink& core(uint32_t k);
    void activity(Queue queue, const arch::Segment& span) override;
    void instruction(Queue queue, const Instruction& instruction, uint64_t start_ps,
                     uint64_t end_ps) override;
    void transferred(uint32_t lane, uint64_t end_ps, uint64_t bytes) override;
    void scratchpad(uint64_t time_ps, uint64_t bytes) override;
    // The power drawn over [from, to), W (sim/energy.h's PowerMeter).
    void power(uint64_t from_ps, uint64_t to_ps, double core_w, double memory_w);
    // Each resource's busy share per ledger window up to `end_ps`.
    void resources(const ResourceLedger& ledger, uint64_t end_ps);
    // Writes the windows that end before `before_ps`.
    void flush_windows(uint64_t before_ps);

   private:
    // Another core's units and instructions.
    class Units : public arch::TraceSink {
     public:
      Units(TraceWriter& writer, int pid) : w_(writer), pid_(pid) {}
      void activity(Queue queue, const arch::Segment& span) override {
        w_.unit_activity(pid_, queue, span);
      }
      void instruction(Queue queue, const Instruction& instruction, uint64_t start_ps,
                       uint64_t end_ps) override {
        w_.unit_instruction(pid_, queue, instruction, start_ps, end_ps);
      }
      void scratchpad(uint64_t, uint64_t) override {}

     private:
      TraceWriter& w_;
      const int pid_;
    };

    TraceWriter& w_;
    const int core_pid_, memory_pid_;
    std::vector<std::unique_ptr<Units>> others_;
    std::vector<std::string> lanes_;
    // Bandwidth windows not yet written, by index: bytes per lane.
    std::map<uint64_t, std::vector<uint64_t>> windows_;
    uint64_t written_windows_ = 0;  // windows before this index are written
    // Scratchpad bytes in use, per window not yet written: the most, and
    // the last figure (what the next window starts with).
    struct SpmWindow {
      uint64_t peak = 0;
      uint64_t last = 0;
    };
    std::map<uint64_t, SpmWindow> spm_;
    uint64_t spm_carry_ = 0;  // in use at the start of the next window to write
  };

  // Adds the next chip's tracks (chip 0 first), of `chips` of `cores`
  // cores each, whose memories have `memory_lanes`.
  Chip& add_chip(uint32_t chips, uint32_t cores, std::vector<std::string> memory_lanes);

  // The run ended at `end_ps`: writes the remaining bandwidth windows and
  // closes the JSON, with what plots draw the counters against in
  // "otherData" (Chrome's trace format's place for it): the system, its
  // peak memory bandwidth (GB/s, a chip's) and scratchpad capacity (MiB).
  struct Machine {
    std::string system;
    double peak_memory_gbps = 0;
    double scratchpad_mib = 0;
  };
  void finish(uint64_t end_ps, const Machine& machine);

 private:
  void event(const std::string& json);
  [[nodiscard]] bool in_layers(const Instruction& instruction) const;
  // A unit's span, and an instruction, on the tracks of process `pid`.
  void unit_activity(int pid, Queue queue, const arch::Segment& span);
  void unit_instruction(int pid, Queue queue, const Instruction& instruction, uint64_t start_ps,
                        uint64_t end_ps);
  // Names process `pid` and its units' tracks.
  void name_core(int pid, const std::string& name);

  TraceOptions options_;
  const Program& program_;
  std::vector<int> node_layer_;  // per graph node: its decoder layer, or -1
  OutputFile file_;
  std::ostream& out_;
  bool first_ = true;
  uint64_t next_id_ = 0;
  std::vector<std::unique_ptr<Chip>> chips_;
};

}  // namespace npusim::sim

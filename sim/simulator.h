// Assembles the SystemC top (NPU core + memory model) for a system and a
// program, runs it to completion and returns the report. Each call runs in a
// fresh SystemC context, so one process can simulate many times (sweeps,
// tests).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "arch/functional.h"
#include "arch/isa.pb.h"
#include "sim/report.pb.h"
#include "sim/system.pb.h"
#include "sim/trace_writer.h"

namespace npusim::sim {

struct SimulationInput {
  const System* system = nullptr;  // defaulted and validated
  const Program* program = nullptr;
  std::string system_where = "system";  // file names, for errors
  std::string program_where = "program";
  const TraceOptions* trace = nullptr;  // write a timeline (sim/trace_writer.h)
  double memory_roof_gbps = 0;          // the roofline's memory roof (0: the peak)
  uint64_t tokens = 0;                  // the workload's tokens, for energy per token
  // The peak power's window. Energy counts when it is spent: a planned DRAM
  // row's ACT and data at their clocks, a tile's and a vector op's spread
  // over their cycles.
  double power_window_us = 10.0;
  // Called now and then while the simulation runs: instructions issued, in
  // all, and the simulated time (ps).
  std::function<void(uint64_t done, uint64_t total, uint64_t simulated_ps)> progress;
  // Functional mode (arch/functional.h): the memory's contents, which the
  // program reads and writes as it runs; no time changes. Null: timing only.
  arch::MemoryImage* memory_image = nullptr;
  // With several chips, chips 1, 2, ...'s own contents (each its part of a
  // model split over them); empty: each a copy of memory_image.
  std::vector<arch::MemoryImage*> chip_images;
};

[[nodiscard]] Report simulate(const SimulationInput& input);

// The system's chips (Topology.chips, default 1), and cores per chip
// (Topology.cores, default 1).
[[nodiscard]] uint32_t chip_count(const System& system);
[[nodiscard]] uint32_t cores_per_chip(const System& system);
// Peak bandwidth of the system's memory, GB/s.
[[nodiscard]] double memory_peak_gbps(const System& system);
// The system memory's read-latency estimate for short requests, ns.
[[nodiscard]] double memory_read_latency_ns(const System& system);

}  // namespace npusim::sim

// Parameter sweeps: a grid of values for system fields and workload options,
// one run per point, one CSV row per run (what pandas.read_csv reads).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/report.pb.h"
#include "sim/system.pb.h"
#include "sim/workload.h"

namespace npusim::sim {

// The most points a sweep may have (each is a whole simulation).
constexpr uint64_t kMaxSweepPoints = 100000;

// One varied parameter: "field=v1,v2,..." (a system field path as --set
// takes it, or a workload option name such as batch or kv-len).
struct SweepAxis {
  std::string field;
  std::vector<std::string> values;
};

// UserError naming `text` when it is not field=v1[,v2...] with values.
[[nodiscard]] SweepAxis parse_sweep_axis(const std::string& text);

// Every combination of the axes' values, the first axis varying slowest.
[[nodiscard]] std::vector<std::vector<std::string>> sweep_grid(const std::vector<SweepAxis>& axes);

// Compiles and simulates one workload, with its tokens for energy per token.
[[nodiscard]] Report run_workload(const System& system, const std::string& where,
                                  const WorkloadOptions& options);

// The CSV: the axes' fields, then the figures of each report.
void write_sweep_csv(std::ostream& out, const std::vector<SweepAxis>& axes,
                     const std::vector<std::vector<std::string>>& grid,
                     const std::vector<Report>& reports);

}  // namespace npusim::sim

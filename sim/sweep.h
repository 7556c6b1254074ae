// Parameter sweeps: a grid of values for system fields and workload options,
// one run per point, one CSV row per run (what pandas.read_csv reads).
#pragma once

#include <functional>
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

class ProgramCache;

// Compiles and simulates one workload, with its tokens for energy per token.
// With a cache, a program compiled for an earlier point the compiler cannot
// tell apart from this one is reused (sim/program_cache.h).
[[nodiscard]] Report run_workload(const System& system, const std::string& where,
                                  const WorkloadOptions& options, ProgramCache* cache = nullptr);

// The CSV's columns: the axes' fields, then the figures of a report, then
// `error` (empty, or why the point failed under --keep-going). A system of
// several memories adds each one's bytes, bandwidth and busy share (and its
// link's) by the memory's name, as `system` (the first point's) lists them;
// blank where a point has no such memory. Decided before any point runs, so
// rows can be written as points finish, in any order.
class SweepTable {
 public:
  SweepTable(const std::vector<SweepAxis>& axes, const System& first);
  [[nodiscard]] std::string header() const;
  // The CSV row of a point with the varied `values`.
  [[nodiscard]] std::string row(const std::vector<std::string>& values, const Report& report) const;
  // A failed point: its values, blank figures and the error.
  [[nodiscard]] std::string failed_row(const std::vector<std::string>& values,
                                       const std::string& error) const;

 private:
  [[nodiscard]] std::string values(const std::vector<std::string>& values) const;
  struct Column {
    std::string name;
    std::function<std::string(const Report&)> value;
  };
  std::vector<std::string> axes_;  // the axes' column names
  std::vector<Column> columns_;    // the figures not varied
};

// `text` on one line: line breaks and tabs as spaces (a CSV cell, a
// journal field).
[[nodiscard]] std::string one_line(std::string text);

}  // namespace npusim::sim

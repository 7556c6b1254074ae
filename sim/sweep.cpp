#include "sim/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

#include "common/error.h"
#include "sim/report_io.h"
#include "sim/simulator.h"

namespace npusim::sim {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + 1) {
    out.push_back(s.substr(start, at - start));
  }
  out.push_back(s.substr(start));
  return out;
}

// A value as a CSV cell: without the quotes a string field takes in --set,
// quoted when it holds a comma or a quote.
std::string cell(std::string v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.find_first_of(",\"") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

SweepAxis parse_sweep_axis(const std::string& text) {
  const auto eq = text.find('=');
  const std::string where = "--vary " + text;
  if (eq == std::string::npos || eq == 0) throw UserError(where + ": expected field=v1,v2,...");
  SweepAxis axis{text.substr(0, eq), split(text.substr(eq + 1), ',')};
  for (const std::string& v : axis.values) {
    if (v.empty()) throw UserError(where + ": an empty value");
  }
  if (axis.values.size() > kMaxSweepPoints) {
    throw UserError(fmt::format("{}: more than {} values", where, kMaxSweepPoints));
  }
  return axis;
}

std::vector<std::vector<std::string>> sweep_grid(const std::vector<SweepAxis>& axes) {
  uint64_t points = 1;
  for (const SweepAxis& axis : axes) {
    points *= axis.values.size();  // each at most kMaxSweepPoints: no overflow
    if (points > kMaxSweepPoints) {
      throw UserError(
          fmt::format("--vary: the grid has more than {} points (--vary {} makes it {})",
                      kMaxSweepPoints, axis.field, points));
    }
  }
  std::vector<std::vector<std::string>> grid{{}};
  for (const SweepAxis& axis : axes) {
    std::vector<std::vector<std::string>> next;
    for (const auto& point : grid) {
      for (const std::string& v : axis.values) {
        next.push_back(point);
        next.back().push_back(v);
      }
    }
    grid = std::move(next);
  }
  return grid;
}

Report run_workload(const System& system, const std::string& where,
                    const WorkloadOptions& options) {
  Compiled c = compile_workload(system, where, options);
  SimulationInput in;
  in.system = &system;
  in.system_where = where;
  in.program = &c.program;
  in.tokens = c.workload.tokens();
  Report r = simulate(in);
  *r.mutable_workload() = c.workload;
  return r;
}

void write_sweep_csv(std::ostream& out, const std::vector<SweepAxis>& axes,
                     const std::vector<std::vector<std::string>>& grid,
                     const std::vector<Report>& reports) {
  // A report's figures by column; a varied option's own column (batch,
  // kv_len, ...) is its axis's.
  using Column = std::pair<std::string, std::function<std::string(const Report&)>>;
  const auto g = [](double v) { return fmt::format("{:.9g}", v); };
  std::vector<Column> columns = {
      {"system", [](const Report& r) { return cell(r.system()); }},
      {"model", [](const Report& r) { return cell(r.workload().model()); }},
      {"phase", [](const Report& r) { return r.workload().phase(); }},
      {"batch", [](const Report& r) { return std::to_string(r.workload().batch()); }},
      {"kv_len", [](const Report& r) { return std::to_string(r.workload().kv_len()); }},
      {"layers", [](const Report& r) { return std::to_string(r.workload().layers()); }},
      {"tokens", [](const Report& r) { return std::to_string(r.workload().tokens()); }},
      {"cycles", [](const Report& r) { return std::to_string(r.cycles()); }},
      {"seconds", [&](const Report& r) { return g(r.seconds()); }},
      {"tokens_per_s", [&](const Report& r) { return g(tokens_per_second(r)); }},
      {"bytes_read", [](const Report& r) { return std::to_string(r.traffic().read().total()); }},
      {"bytes_written",
       [](const Report& r) { return std::to_string(r.traffic().written().total()); }},
      {"bandwidth_gbps", [&](const Report& r) { return g(r.traffic().achieved_bandwidth_gbps()); }},
      {"bandwidth_share", [&](const Report& r) { return g(bandwidth_share(r)); }},
      {"array_utilization", [&](const Report& r) { return g(r.compute().array_utilization()); }},
      {"stall_memory_cycles",
       [](const Report& r) { return std::to_string(r.stall_memory_cycles()); }},
      {"stall_dependency_cycles",
       [](const Report& r) { return std::to_string(r.stall_dependency_cycles()); }},
      {"stall_spm_space_cycles",
       [](const Report& r) { return std::to_string(r.stall_spm_space_cycles()); }},
      {"intensity", [&](const Report& r) { return g(r.roofline().intensity()); }},
      {"ridge_intensity", [&](const Report& r) { return g(r.roofline().ridge_intensity()); }},
      {"bound", [](const Report& r) { return cell(r.limiter().resource()); }},
      {"bound_share", [&](const Report& r) { return g(r.limiter().busy_share()); }},
      {"joules", [&](const Report& r) { return g(r.energy().joules()); }},
      {"joules_per_token", [&](const Report& r) { return g(r.energy().joules_per_token()); }},
      {"tokens_per_joule", [&](const Report& r) { return g(r.energy().tokens_per_joule()); }},
      {"average_w", [&](const Report& r) { return g(r.energy().average_w()); }},
      {"peak_w", [&](const Report& r) { return g(r.energy().peak_w()); }},
      {"memory_joules", [&](const Report& r) { return g(r.memory().energy().total()); }},
  };
  // A system of several memories: each one's bytes, bandwidth and busy
  // share, and its link's busier direction, by the memory's name (the first
  // report's memories; blank where a point has no such memory).
  if (!reports.empty()) {
    for (const MemoryTierStats& m : reports.front().memories()) {
      const std::string name = m.name();
      auto field = [name, g](auto get) {
        return [name, g, get](const Report& r) -> std::string {
          for (const MemoryTierStats& x : r.memories()) {
            if (x.name() == name) return g(get(x));
          }
          return "";
        };
      };
      columns.emplace_back(name + "_bytes_read", field([](const MemoryTierStats& x) {
                             return static_cast<double>(x.read_bytes());
                           }));
      columns.emplace_back(name + "_bandwidth_gbps", field([](const MemoryTierStats& x) {
                             return x.achieved_bandwidth_gbps();
                           }));
      columns.emplace_back(name + "_busy",
                           field([](const MemoryTierStats& x) { return x.busy(); }));
      if (m.has_link()) {
        columns.emplace_back(name + "_link_busy", field([](const MemoryTierStats& x) {
                               return std::max(x.link().busy_to_memory(),
                                               x.link().busy_from_memory());
                             }));
      }
    }
  }
  std::set<std::string> varied;
  std::string header;
  for (const SweepAxis& a : axes) {
    std::string name = a.field;
    std::replace(name.begin(), name.end(), '-', '_');  // kv-len: the kv_len column
    varied.insert(name);
    header += (header.empty() ? "" : ",") + cell(name);
  }
  for (const auto& [name, value] : columns) {
    if (varied.count(name) == 0) header += std::string(",") + name;
  }
  out << header << "\n";
  for (size_t i = 0; i < reports.size(); ++i) {
    std::string row;
    for (const std::string& v : grid[i]) row += (row.empty() ? "" : ",") + cell(v);
    for (const auto& [name, value] : columns) {
      if (varied.count(name) == 0) row += "," + value(reports[i]);
    }
    out << row << "\n";
  }
}

}  // namespace npusim::sim

#include "sim/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

#include "common/error.h"
#include "sim/memories.h"
#include "sim/program_cache.h"
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

Report run_workload(const System& system, const std::string& where, const WorkloadOptions& options,
                    ProgramCache* cache) {
  const std::shared_ptr<const Compiled> c =
      cache != nullptr ? cache->get(system, where, options)
                       : std::make_shared<const Compiled>(compile_workload(system, where, options));
  SimulationInput in;
  in.system = &system;
  in.system_where = where;
  in.program = &c->program;
  in.tokens = c->workload.tokens();
  Report r = simulate(in);
  *r.mutable_workload() = c->workload;
  return r;
}

SweepTable::SweepTable(const std::vector<SweepAxis>& axes, const System& first) {
  // A report's figures by column; a varied option's own column (batch,
  // kv_len, ...) is its axis's.
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
      {"seconds", [g](const Report& r) { return g(r.seconds()); }},
      {"tokens_per_s", [g](const Report& r) { return g(tokens_per_second(r)); }},
      {"bytes_read", [](const Report& r) { return std::to_string(r.traffic().read().total()); }},
      {"bytes_written",
       [](const Report& r) { return std::to_string(r.traffic().written().total()); }},
      {"bandwidth_gbps", [g](const Report& r) { return g(r.traffic().achieved_bandwidth_gbps()); }},
      {"bandwidth_share", [g](const Report& r) { return g(bandwidth_share(r)); }},
      {"array_utilization", [g](const Report& r) { return g(r.compute().array_utilization()); }},
      {"stall_memory_cycles",
       [](const Report& r) { return std::to_string(r.stall_memory_cycles()); }},
      {"stall_dependency_cycles",
       [](const Report& r) { return std::to_string(r.stall_dependency_cycles()); }},
      {"stall_spm_space_cycles",
       [](const Report& r) { return std::to_string(r.stall_spm_space_cycles()); }},
      {"intensity", [g](const Report& r) { return g(r.roofline().intensity()); }},
      {"ridge_intensity", [g](const Report& r) { return g(r.roofline().ridge_intensity()); }},
      {"bound", [](const Report& r) { return cell(r.limiter().resource()); }},
      {"bound_share", [g](const Report& r) { return g(r.limiter().busy_share()); }},
      {"joules", [g](const Report& r) { return g(r.energy().joules()); }},
      {"joules_per_token", [g](const Report& r) { return g(r.energy().joules_per_token()); }},
      {"tokens_per_joule", [g](const Report& r) { return g(r.energy().tokens_per_joule()); }},
      {"average_w", [g](const Report& r) { return g(r.energy().average_w()); }},
      {"peak_w", [g](const Report& r) { return g(r.energy().peak_w()); }},
      {"memory_joules", [g](const Report& r) { return g(r.memory().energy().total()); }},
  };
  // Several memories (or one behind a link): the report lists each
  // (MemorySystem::report), as the system does.
  if (has_interconnect(first)) {
    for (const MemoryRef& m : memories(first)) {
      const std::string name = m.config->name();
      auto field = [name, g](auto get) {
        return [name, g, get](const Report& r) -> std::string {
          for (const MemoryTierStats& x : r.memories()) {
            if (x.name() == name) return g(get(x));
          }
          return "";
        };
      };
      columns.push_back({name + "_bytes_read", field([](const MemoryTierStats& x) {
                           return static_cast<double>(x.read_bytes());
                         })});
      columns.push_back({name + "_bandwidth_gbps", field([](const MemoryTierStats& x) {
                           return x.achieved_bandwidth_gbps();
                         })});
      columns.push_back({name + "_busy", field([](const MemoryTierStats& x) { return x.busy(); })});
      if (m.config->has_link()) {
        columns.push_back({name + "_link_busy", field([](const MemoryTierStats& x) {
                             return std::max(x.link().busy_to_memory(),
                                             x.link().busy_from_memory());
                           })});
      }
    }
  }
  std::set<std::string> varied;
  for (const SweepAxis& a : axes) {
    std::string name = a.field;
    std::replace(name.begin(), name.end(), '-', '_');  // kv-len: the kv_len column
    varied.insert(name);
    axes_.push_back(name);
  }
  for (Column& c : columns) {
    if (varied.count(c.name) == 0) columns_.push_back(std::move(c));
  }
}

std::string SweepTable::header() const {
  std::string header;
  for (const std::string& a : axes_) header += (header.empty() ? "" : ",") + cell(a);
  for (const Column& c : columns_) header += "," + c.name;
  return header + ",error";
}

std::string SweepTable::values(const std::vector<std::string>& values) const {
  std::string cells;
  for (const std::string& v : values) cells += (cells.empty() ? "" : ",") + cell(v);
  return cells;
}

std::string SweepTable::row(const std::vector<std::string>& values, const Report& report) const {
  std::string row = this->values(values);
  for (const Column& c : columns_) row += "," + c.value(report);
  return row + ",";
}

std::string SweepTable::failed_row(const std::vector<std::string>& values,
                                   const std::string& error) const {
  return this->values(values) + std::string(columns_.size() + 1, ',') + cell(one_line(error));
}

std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return text;
}

}  // namespace npusim::sim

#include "sim/limiters.h"

#include <algorithm>
#include <map>

namespace npusim::sim {
namespace {
// Two resources within kTie of each other are co-limiters (a scratchpad
// port as fast as the DRAM behind it); the one registered first is named:
// the memory registers before the core's units, and its resources are what
// the units' requests end up waiting on.
constexpr double kTie = 1.005;

}  // namespace

const char* path_name(ResourcePath path) {
  switch (path) {
    case ResourcePath::Memory:
      return "memory";
    case ResourcePath::Matrix:
      return "matrix";
    case ResourcePath::Vector:
      return "vector";
  }
  return "?";
}

Limiters::Limiters(const ResourceLedger& ledger, uint64_t end_ps)
    : ledger_(ledger), end_ps_(end_ps) {}

double Limiters::share(size_t resource, const std::vector<Span>& spans) const {
  const auto& r = ledger_.resources()[resource];
  double work = 0, ps = 0;
  for (const auto& [from, to] : spans) {
    if (to <= from) continue;
    work += ledger_.work(r.column, from, to);
    ps += static_cast<double>(to - from);
  }
  return ps > 0 && r.info.capacity_per_ps > 0 ? work / (r.info.capacity_per_ps * ps) : 0.0;
}

Limiter Limiters::limiter(const std::vector<Span>& spans, unsigned paths) const {
  Limiter best;
  for (size_t i = 0; i < ledger_.resources().size(); ++i) {
    if ((path_bit(ledger_.resources()[i].info.path) & paths) == 0) continue;
    const double s = share(i, spans);
    if (s > best.busy_share() * kTie) {
      best.set_resource(ledger_.resources()[i].info.name);
      best.set_busy_share(s);
    }
  }
  return best;
}

void Limiters::fill_resources(Report* report) const {
  for (size_t i = 0; i < ledger_.resources().size(); ++i) {
    const auto& r = ledger_.resources()[i];
    ResourceStats* out = report->add_resources();
    out->set_name(r.info.name);
    out->set_path(path_name(r.info.path));
    out->set_unit(r.info.unit);
    out->set_capacity_per_s(r.info.capacity_per_ps * 1e12);
    out->set_capacity_note(r.info.capacity_note);
    // All its work was done by the end of the run.
    out->set_work(ledger_.total(r.column));
    const double capacity = r.info.capacity_per_ps * static_cast<double>(end_ps_);
    out->set_busy_share(capacity > 0 ? out->work() / capacity : 0.0);
  }
  Limiter* best = report->mutable_limiter();
  for (const ResourceStats& r : report->resources()) {
    if (r.busy_share() > best->busy_share() * kTie) {
      best->set_resource(r.name());
      best->set_busy_share(r.busy_share());
    }
  }
}

int Limiters::saturated(ResourcePath path, size_t w) const {
  int best = -1;
  double best_share = 0;
  for (size_t i = 0; i < ledger_.resources().size(); ++i) {
    const auto& r = ledger_.resources()[i];
    if (r.info.path != path || r.info.capacity_per_ps <= 0) continue;
    const double s = ledger_.at(w, r.column) / r.info.capacity_per_ps;
    if (s > best_share * kTie) {
      best = static_cast<int>(i);
      best_share = s;
    }
  }
  return best;
}

void Limiters::fill_stalls(const arch::Engine& engine, uint64_t clock_ps, UnitStats* u) const {
  std::map<std::string, double> ps;  // by cause
  const auto& columns = engine.stall_columns();
  const auto& totals = engine.log().totals_ps();
  for (size_t a = 0; a < arch::kActivities; ++a) {
    ResourcePath path{};
    if (!arch::stall_path(static_cast<arch::Activity>(a), &path)) continue;
    if (columns[a] < 0) {  // no ledger: the path as a whole
      ps[path_name(path)] += static_cast<double>(totals[a]);
      continue;
    }
    const auto column = static_cast<ResourceLedger::Column>(columns[a]);
    for (size_t w = 0; w < ledger_.windows(); ++w) {
      const double t = ledger_.at(w, column);
      if (t <= 0) continue;
      const int r = saturated(path, w);
      // No resource of the path did work in the window: the data was on its
      // way (latency), or the unit computed nothing measurable.
      ps[r >= 0                         ? ledger_.resources()[static_cast<size_t>(r)].info.name
         : path == ResourcePath::Memory ? "memory latency"
                                        : path_name(path)] += t;
    }
  }
  ps["dependency"] +=
      static_cast<double>(totals[static_cast<size_t>(arch::Activity::StallDependency)]);
  ps["kernel boundary"] +=
      static_cast<double>(totals[static_cast<size_t>(arch::Activity::StallKernel)]);
  ps["scratchpad space"] +=
      static_cast<double>(totals[static_cast<size_t>(arch::Activity::StallSpmSpace)]);

  // Whole cycles that sum to the unit's stall cycles: each cause rounded,
  // the difference given to the largest.
  std::vector<StallCause> causes;
  int64_t sum = 0;
  for (const auto& [cause, t] : ps) {
    if (t <= 0) continue;
    StallCause c;
    c.set_cause(cause);
    c.set_cycles(static_cast<uint64_t>(t / static_cast<double>(clock_ps) + 0.5));
    sum += static_cast<int64_t>(c.cycles());
    causes.push_back(c);
  }
  std::stable_sort(causes.begin(), causes.end(), [](const StallCause& a, const StallCause& b) {
    return a.cycles() > b.cycles();
  });
  const auto target = static_cast<int64_t>(u->stall_memory_cycles() + u->stall_dependency_cycles() +
                                           u->stall_spm_space_cycles());
  if (!causes.empty() && sum != target) {
    const int64_t fixed = static_cast<int64_t>(causes[0].cycles()) + target - sum;
    causes[0].set_cycles(static_cast<uint64_t>(std::max<int64_t>(0, fixed)));
  }
  for (const StallCause& c : causes) {
    if (c.cycles() > 0) *u->add_stalls() = c;
  }
}

}  // namespace npusim::sim

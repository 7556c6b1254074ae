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
    : ledger_(ledger), end_ps_(end_ps) {
  // A group is a run of resources registered one after another.
  const auto& rs = ledger.resources();
  group_first_.resize(rs.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    const bool joins =
        i > 0 && !rs[i].info.group.empty() && rs[i - 1].info.group == rs[i].info.group;
    group_first_[i] = joins ? group_first_[i - 1] : i;
  }
}

const std::vector<int>& Limiters::busiest(ResourcePath path) const {
  const auto p = static_cast<size_t>(path);
  auto& busiest = busiest_[p];
  if (have_busiest_[p]) return busiest;
  have_busiest_[p] = true;
  busiest.assign(ledger_.windows(), -1);
  std::vector<double> shares(ledger_.resources().size());
  for (size_t w = 0; w < ledger_.windows(); ++w) {
    if (!ledger_.held(w)) continue;  // no work: no resource busy
    for (size_t i = 0; i < shares.size(); ++i) {
      const auto& r = ledger_.resources()[i];
      shares[i] = r.info.path == path ? ledger_.share_in(r, w) : -1.0;
    }
    busiest[w] = pick(shares).resource;
  }
  return busiest;
}

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

Limiters::Pick Limiters::pick(const std::vector<double>& shares) const {
  // Resources of one group split one unit's time (the arrays compute or
  // wait for operands): the group is as busy as their sum, and is named by
  // its busiest member.
  const auto& rs = ledger_.resources();
  std::vector<double>& group = group_share_;
  std::vector<int>& named = group_named_;
  group.assign(rs.size(), 0.0);
  named.assign(rs.size(), -1);
  for (size_t i = 0; i < rs.size(); ++i) {
    if (shares[i] < 0) continue;
    const size_t g = group_first_[i];
    group[g] += shares[i];
    if (named[g] < 0 || shares[i] > shares[static_cast<size_t>(named[g])]) {
      named[g] = static_cast<int>(i);
    }
  }
  Pick best;
  for (size_t g = 0; g < rs.size(); ++g) {
    if (named[g] >= 0 && group[g] > 0 && group[g] > best.share * kTie) {
      best = {named[g], group[g]};
    }
  }
  return best;
}

Limiter Limiters::limiter(const std::vector<Span>& spans, unsigned paths) const {
  std::vector<double> shares(ledger_.resources().size(), -1.0);
  for (size_t i = 0; i < shares.size(); ++i) {
    if ((path_bit(ledger_.resources()[i].info.path) & paths) != 0) shares[i] = share(i, spans);
  }
  return named(pick(shares));
}

Limiter Limiters::named(const Pick& p) const {
  Limiter l;
  if (p.resource >= 0) {
    l.set_resource(ledger_.resources()[static_cast<size_t>(p.resource)].info.name);
    l.set_busy_share(p.share);
  }
  return l;
}

void Limiters::fill_resources(Report* report) const {
  std::vector<double> shares;
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
    shares.push_back(out->busy_share());
  }
  *report->mutable_limiter() = named(pick(shares));
}

void Limiters::fill_stalls(const arch::Engine& engine, uint64_t clock_ps, UnitStats* u) const {
  std::map<std::string, double> ps;  // by cause
  const auto& columns = engine.stall_columns();
  const auto& totals = engine.log().totals_ps();
  for (size_t a = 0; a < arch::kActivities; ++a) {
    ResourcePath path{};
    if (!arch::stall_path(static_cast<arch::Activity>(a), &path)) continue;
    const auto column = static_cast<ResourceLedger::Column>(columns[a]);
    for (size_t w = 0; w < ledger_.windows(); ++w) {
      const double t = ledger_.at(w, column);
      if (t <= 0) continue;
      const int r = busiest(path)[w];
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

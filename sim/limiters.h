// The limiter accounting, from the resource ledger the run filled
// (common/resources.h): each resource's busy share, what limited the run
// and any span of it (the resource with the highest busy share), and each
// unit's stall cycles charged to the resource that was saturated while it
// waited.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "arch/engine.h"
#include "common/resources.h"
#include "sim/report.pb.h"

namespace npusim::sim {

using Span = std::pair<uint64_t, uint64_t>;  // [from, to) ps

class Limiters {
 public:
  Limiters(const ResourceLedger& ledger, uint64_t end_ps);

  // The resource with the highest busy share over the spans (disjoint),
  // among the resources of the paths in `paths` (path_bit()s; default all).
  // A group (ResourceInfo::group) counts as busy as its members together and
  // is named by its busiest member.
  [[nodiscard]] Limiter limiter(const std::vector<Span>& spans, unsigned paths = ~0u) const;
  // Every resource's capacity, work and busy share over the run.
  void fill_resources(Report* report) const;
  // The unit's stall cycles by cause (`clock_ps` per cycle; the unit
  // recorded its stalls in the ledger): waits on a busy
  // unit go to its path's busiest resource (group) in each window,
  // the rest to "dependency" and "scratchpad space". They sum to the
  // unit's stall cycles in `u`.
  void fill_stalls(const arch::Engine& engine, uint64_t clock_ps, UnitStats* u) const;

 private:
  [[nodiscard]] double share(size_t resource, const std::vector<Span>& spans) const;
  struct Pick {
    int resource = -1;  // the named member
    double share = 0;   // its group's
  };
  // The busiest of `shares` (per resource; < 0: not a candidate).
  [[nodiscard]] Pick pick(const std::vector<double>& shares) const;
  [[nodiscard]] Limiter named(const Pick& p) const;

  // Per window: the busiest resource (group) of `path`, or -1 when none of
  // its resources did any work in it (made on first use: only the stalls
  // need it).
  [[nodiscard]] const std::vector<int>& busiest(ResourcePath path) const;

  const ResourceLedger& ledger_;
  uint64_t end_ps_;
  // Per resource: the first member of its group (itself when in none).
  std::vector<size_t> group_first_;
  mutable std::array<std::vector<int>, 3> busiest_;
  mutable std::array<bool, 3> have_busiest_{};
  // pick()'s scratch, per resource.
  mutable std::vector<double> group_share_;
  mutable std::vector<int> group_named_;
};

// "memory", "matrix", "vector".
[[nodiscard]] const char* path_name(ResourcePath path);
[[nodiscard]] inline unsigned path_bit(ResourcePath path) {
  return 1u << static_cast<unsigned>(path);
}

}  // namespace npusim::sim

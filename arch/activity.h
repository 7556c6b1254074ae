// What a unit did over time, as contiguous segments from time 0. Every instant
// of a unit is one Activity; a stall's cause is decided when the stall ends:
// a wait on a buffer-free semaphore is a stall for scratchpad space, a wait on
// a data-ready semaphore takes the causes of what its producer did meanwhile
// (moving memory is a memory stall, computing a dependency stall, and the
// producer's own stalls keep their causes). So a vector unit waiting on a
// matrix unit that waits on memory is itself waiting on memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "common/resources.h"

namespace npusim::arch {

// A stall waits on a unit that is busy (StallMemory: the DMA moving data,
// StallMatrix, StallVector: computing), on a unit that is itself idle or
// waiting on this one (StallDependency), or on scratchpad space. Which
// resource of the busy unit's path was saturated is decided per window of
// time from the resource ledger (common/resources.h), so each log also
// records its stall time there.
enum class Activity : uint8_t {
  Busy,
  StallMemory,
  StallMatrix,
  StallVector,
  StallDependency,
  StallSpmSpace,
  StallKernel,  // kernel by kernel: the op before has not ended everywhere, or the launch gap
  Idle
};
inline constexpr std::size_t kActivities = 8;
// The path whose resources a stall waits on, or none.
[[nodiscard]] inline bool stall_path(Activity a, ResourcePath* path) {
  switch (a) {
    case Activity::StallMemory:
      *path = ResourcePath::Memory;
      return true;
    case Activity::StallMatrix:
      *path = ResourcePath::Matrix;
      return true;
    case Activity::StallVector:
      *path = ResourcePath::Vector;
      return true;
    default:
      return false;
  }
}

struct Segment {
  uint64_t start_ps;
  uint64_t end_ps;
  Activity activity;
};

class ActivityLog {
 public:
  // Appends [max(start, end()), end) as `activity`, merging with the last
  // segment when it has the same activity. Times before end() are already
  // accounted for and are ignored.
  void append(uint64_t start_ps, uint64_t end_ps, Activity activity);

  // Starts an activity whose end is not known yet (a DMA engine is busy while
  // any of its requests is in flight); close() ends it.
  void open(uint64_t start_ps, Activity activity);
  void close(uint64_t end_ps);
  [[nodiscard]] bool is_open() const { return open_; }

  // The segments covering [from, to), clipped (an open activity extends to
  // `to`); what this log does not cover yet is returned as Idle.
  [[nodiscard]] std::vector<Segment> slice(uint64_t from_ps, uint64_t to_ps) const;

  // Drops segments that end at or before `before_ps`; totals keep them.
  void prune(uint64_t before_ps);

  // Calls `on_final` with each span once it can grow no more (the next one
  // differs, or finish() is called); Idle spans are not passed on.
  void observe(std::function<void(const Segment&)> on_final) { on_final_ = std::move(on_final); }
  // Passes on the last span (the run is over).
  void finish();

  // Records the time of each activity that has a column (-1: none) in
  // `ledger` as well, window by window.
  void record(ResourceLedger* ledger, const std::array<int64_t, kActivities>& columns) {
    ledger_ = ledger;
    columns_ = columns;
  }

  // The ledger column of each activity (-1: none, or no ledger).
  [[nodiscard]] const std::array<int64_t, kActivities>& columns() const { return columns_; }

  [[nodiscard]] uint64_t end() const { return end_ps_; }
  [[nodiscard]] const std::array<uint64_t, kActivities>& totals_ps() const { return totals_; }

 private:
  std::deque<Segment> segments_;
  uint64_t end_ps_ = 0;
  std::array<uint64_t, kActivities> totals_{};
  bool open_ = false;
  std::function<void(const Segment&)> on_final_;
  Segment pending_{0, 0, Activity::Idle};  // the span on_final_ gets next
  uint64_t open_start_ps_ = 0;
  Activity open_activity_ = Activity::Busy;
  ResourceLedger* ledger_ = nullptr;
  std::array<int64_t, kActivities> columns_ = filled(-1);
  static constexpr std::array<int64_t, kActivities> filled(int64_t v) {
    std::array<int64_t, kActivities> a{};
    for (auto& x : a) x = v;
    return a;
  }
};

}  // namespace npusim::arch

#include "arch/activity.h"

#include <algorithm>

namespace npusim::arch {

void ActivityLog::append(uint64_t start_ps, uint64_t end_ps, Activity activity) {
  start_ps = std::max(start_ps, end_ps_);
  if (end_ps <= start_ps) return;
  if (start_ps > end_ps_) {
    // Nothing recorded the gap: the unit had no work and was not waiting.
    append(end_ps_, start_ps, Activity::Idle);
  }
  totals_[static_cast<size_t>(activity)] += end_ps - start_ps;
  if (ledger_ != nullptr) {
    const int64_t column = columns_[static_cast<size_t>(activity)];
    if (column >= 0) {
      ledger_->add(static_cast<ResourceLedger::Column>(column), start_ps, end_ps,
                   static_cast<double>(end_ps - start_ps));
    }
  }
  if (on_final_) {
    if (pending_.activity == activity && pending_.end_ps == start_ps) {
      pending_.end_ps = end_ps;
    } else {
      if (pending_.activity != Activity::Idle) on_final_(pending_);
      pending_ = {start_ps, end_ps, activity};
    }
  }
  if (!segments_.empty() && segments_.back().activity == activity) {
    segments_.back().end_ps = end_ps;
  } else {
    segments_.push_back({start_ps, end_ps, activity});
  }
  end_ps_ = end_ps;
}

std::vector<Segment> ActivityLog::slice(uint64_t from_ps, uint64_t to_ps) const {
  std::vector<Segment> out;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), from_ps,
                             [](uint64_t t, const Segment& s) { return t < s.end_ps; });
  uint64_t covered = from_ps;
  for (; it != segments_.end() && it->start_ps < to_ps; ++it) {
    const uint64_t a = std::max(it->start_ps, from_ps);
    const uint64_t b = std::min(it->end_ps, to_ps);
    if (a > covered) out.push_back({covered, a, Activity::Idle});
    if (b > a) out.push_back({a, b, it->activity});
    covered = b;
  }
  if (open_ && covered < to_ps && open_start_ps_ < to_ps) {
    if (covered < open_start_ps_) out.push_back({covered, open_start_ps_, Activity::Idle});
    covered = std::max(covered, open_start_ps_);
    out.push_back({covered, to_ps, open_activity_});
    covered = to_ps;
  }
  if (covered < to_ps) out.push_back({covered, to_ps, Activity::Idle});
  return out;
}

void ActivityLog::open(uint64_t start_ps, Activity activity) {
  if (start_ps > end_ps_) append(end_ps_, start_ps, Activity::Idle);
  open_ = true;
  open_start_ps_ = std::max(start_ps, end_ps_);
  open_activity_ = activity;
}

void ActivityLog::close(uint64_t end_ps) {
  open_ = false;
  append(open_start_ps_, end_ps, open_activity_);
}

void ActivityLog::finish() {
  if (on_final_ && pending_.activity != Activity::Idle && pending_.end_ps > pending_.start_ps) {
    on_final_(pending_);
  }
  pending_ = {end_ps_, end_ps_, Activity::Idle};
}

void ActivityLog::prune(uint64_t before_ps) {
  while (!segments_.empty() && segments_.front().end_ps <= before_ps) segments_.pop_front();
}

}  // namespace npusim::arch

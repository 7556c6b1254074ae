#include "memory/dram/channel_controller.h"

#include <algorithm>

namespace npusim::memory::dram {

namespace {
constexpr size_t kLatencyBuckets = 4096;  // clocks; longer latencies land in the last
}

ChannelController::ChannelController(const DramSpec& spec, Done done)
    : spec_(spec),
      done_(std::move(done)),
      timing_(spec),
      close_pending_(spec.banks(), false),
      seen_(spec.banks(), 0),
      refresh_due_(spec.refresh == DramConfig::ALL_BANK   ? spec.REFI
                   : spec.refresh == DramConfig::PER_BANK ? spec.REFI / spec.banks()
                                                          : kNever) {
  stats_.read_latency.assign(kLatencyBuckets, 0);
}

void ChannelController::account(uint64_t now) {
  if (now > stats_.last_clock) {
    stats_.occupancy_sum += (now - stats_.last_clock) * (reads_.size() + writes_.size());
    stats_.last_clock = now;
  }
}

void ChannelController::enqueue(const Burst& burst, uint64_t now) {
  if (idle() && !refresh_pending_) catch_up(now);
  account(now);
  (burst.write ? writes_ : reads_).push_back(burst);
  stats_.occupancy_max =
      std::max(stats_.occupancy_max, static_cast<uint32_t>(reads_.size() + writes_.size()));
}

void ChannelController::refreshed() {
  refresh_pending_ = false;
  if (spec_.refresh == DramConfig::ALL_BANK) {
    refresh_due_ += spec_.REFI;
  } else {
    refresh_due_ += spec_.REFI / spec_.banks();
    refresh_bank_ = (refresh_bank_ + 1) % timing_.banks();
  }
}

void ChannelController::catch_up(uint64_t now) {
  if (spec_.refresh == DramConfig::NO_REFRESH) return;
  const bool all = spec_.refresh == DramConfig::ALL_BANK;
  while (refresh_due_ <= now) {
    // What the controller would have done at the due clock: close the banks
    // the refresh needs, then refresh.
    const uint64_t due = refresh_due_;
    const uint32_t first = all ? 0 : refresh_bank_;
    const uint32_t last = all ? timing_.banks() : refresh_bank_ + 1;
    for (uint32_t b = first; b < last; ++b) {
      if (timing_.open_row(b) != kClosed) {
        issue(Command::PRE, b, std::max(due, timing_.earliest(Command::PRE, b)));
        close_pending_[b] = false;
      }
    }
    const Command ref = all ? Command::REFab : Command::REFpb;
    issue(ref, refresh_bank_, std::max(due, timing_.earliest(ref, refresh_bank_)));
    stats_.refresh_cycles += all ? spec_.RFC : spec_.RFCpb / spec_.banks();
    refreshed();
  }
}

void ChannelController::issue(Command c, uint32_t bank, uint64_t now, uint32_t row) {
  timing_.issue(c, bank, now, row);
  ++stats_.commands[static_cast<size_t>(c)];
}

bool ChannelController::row_wanted(uint32_t bank, uint32_t row) const {
  auto hits = [&](const std::vector<Burst>& q) {
    return std::any_of(q.begin(), q.end(),
                       [&](const Burst& b) { return b.bank == bank && b.row == row; });
  };
  return hits(reads_) || hits(writes_);
}

// Refresh takes priority: close the banks it needs, then refresh. Returns
// true when it issued a command; lowers `wake` to when it next can act.
bool ChannelController::refresh(uint64_t now, uint64_t& wake) {
  if (!refresh_pending_) {
    if (now < refresh_due_) {
      wake = std::min(wake, refresh_due_);
      return false;
    }
    refresh_pending_ = true;
  }
  const bool all = spec_.refresh == DramConfig::ALL_BANK;
  const uint32_t first = all ? 0 : refresh_bank_;
  const uint32_t last = all ? timing_.banks() : refresh_bank_ + 1;
  for (uint32_t b = first; b < last; ++b) {
    if (timing_.open_row(b) == kClosed) continue;
    const uint64_t t = timing_.earliest(Command::PRE, b);
    if (t <= now) {
      issue(Command::PRE, b, now);
      close_pending_[b] = false;
      return true;
    }
    wake = std::min(wake, t);
    return false;
  }
  const Command ref = all ? Command::REFab : Command::REFpb;
  const uint64_t t = timing_.earliest(ref, refresh_bank_);
  if (t > now) {
    wake = std::min(wake, t);
    return false;
  }
  issue(ref, refresh_bank_, now);
  stats_.refresh_cycles += all ? spec_.RFC : spec_.RFCpb / spec_.banks();
  refreshed();
  return true;
}

bool ChannelController::schedule(std::vector<Burst>& q, uint64_t now, uint64_t& wake) {
  const bool blocked_bank_valid = refresh_pending_ && spec_.refresh == DramConfig::PER_BANK;
  auto blocked = [&](uint32_t bank) {
    return refresh_pending_ && (!blocked_bank_valid || bank == refresh_bank_);
  };
  // First ready: the oldest row hit whose column command can issue now. A
  // bank whose oldest hit cannot issue is not checked again in this scan, and
  // nothing is checked while the channel's data bus rules out any column
  // command.
  const bool writes = &q == &writes_;
  const uint64_t floor = timing_.channel_floor(writes ? Command::WR : Command::RD);
  ++scan_;
  for (size_t i = 0; floor <= now && i < q.size(); ++i) {
    Burst& b = q[i];
    if (b.arrival > now) {
      wake = std::min(wake, b.arrival);
      continue;
    }
    if (seen_[b.bank] == scan_ || timing_.open_row(b.bank) != b.row || blocked(b.bank)) continue;
    seen_[b.bank] = scan_;
    const Command c = b.write ? Command::WR : Command::RD;
    const uint64_t t = timing_.earliest(c, b.bank);
    if (t > now) {
      wake = std::min(wake, t);
      continue;
    }
    issue(c, b.bank, now);
    const uint64_t end = now + (b.write ? spec_.CWL : spec_.CL) + spec_.burst_cycles;
    stats_.data_cycles += spec_.burst_cycles;
    (b.write ? stats_.write_bytes : stats_.read_bytes) += spec_.burst_bytes();
    (b.outcome == 0   ? stats_.row_hits
     : b.outcome == 1 ? stats_.row_misses
                      : stats_.row_conflicts)++;
    if (!b.write) {
      stats_.read_latency[std::min<uint64_t>(end - b.arrival, kLatencyBuckets - 1)]++;
    }
    const Burst served = b;
    account(now);
    q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
    if (spec_.page_policy == DramConfig::CLOSED_PAGE && !row_wanted(served.bank, served.row)) {
      close_pending_[served.bank] = true;
    }
    done_(served.request, end);
    column_issued_ = true;
    return true;
  }
  if (floor > now) wake = std::min(wake, floor);
  // Then the oldest request's next row command (ACT, or PRE on a conflict
  // that no queued request still hits).
  for (Burst& b : q) {
    if (b.arrival > now || blocked(b.bank)) continue;
    const uint32_t open = timing_.open_row(b.bank);
    if (open == b.row) continue;  // a hit waiting for its column timing
    const Command c = open == kClosed ? Command::ACT : Command::PRE;
    if (c == Command::PRE && row_wanted(b.bank, open)) continue;
    const uint64_t t = timing_.earliest(c, b.bank);
    if (t > now) {
      wake = std::min(wake, t);
      continue;
    }
    issue(c, b.bank, now, b.row);
    if (c == Command::PRE) {
      close_pending_[b.bank] = false;
      for (Burst& o : q) {
        if (o.bank == b.bank && o.outcome == 0) o.outcome = 2;
      }
    } else if (b.outcome == 0) {
      b.outcome = 1;
    }
    return true;
  }
  return false;
}

uint64_t ChannelController::step(uint64_t now) {
  account(now);
  uint64_t wake = kNever;
  if (idle() && !refresh_pending_) {
    catch_up(now);
    return kNever;
  }
  if (refresh(now, wake)) return now + 1;
  if (refresh_pending_ && spec_.refresh == DramConfig::ALL_BANK) return std::max(wake, now + 1);

  // Write drain between the watermarks; reads otherwise.
  if (!draining_ && (writes_.size() >= spec_.write_high || (reads_.empty() && !writes_.empty()))) {
    draining_ = true;
  } else if (draining_ &&
             (writes_.empty() || (writes_.size() <= spec_.write_low && !reads_.empty()))) {
    draining_ = false;
  }
  column_issued_ = false;
  if (schedule(draining_ ? writes_ : reads_, now, wake)) {
    // After a column command, when every queued burst of the active queue
    // hits an open row, nothing can issue before the data bus allows the
    // next column command: sleep until then instead of polling each clock.
    std::vector<Burst>& q = draining_ ? writes_ : reads_;
    if (column_issued_ && !refresh_pending_ && refresh_due_ > now + 1 &&
        std::all_of(q.begin(), q.end(),
                    [&](const Burst& b) {
                      return b.arrival <= now && timing_.open_row(b.bank) == b.row;
                    }) &&
        (draining_ ? reads_.empty() : writes_.size() + 1 < spec_.write_high)) {
      const uint64_t floor = timing_.channel_floor(draining_ ? Command::WR : Command::RD);
      return std::max(now + 1, std::min(floor, refresh_due_));
    }
    return now + 1;
  }

  // Closed page: precharge banks whose last queued access has been served.
  if (spec_.page_policy == DramConfig::CLOSED_PAGE) {
    for (uint32_t bank = 0; bank < close_pending_.size(); ++bank) {
      if (!close_pending_[bank]) continue;
      const uint64_t t = timing_.earliest(Command::PRE, bank);
      if (t <= now) {
        issue(Command::PRE, bank, now);
        close_pending_[bank] = false;
        return now + 1;
      }
      wake = std::min(wake, t);
    }
  }
  if (idle() && !refresh_pending_) return kNever;  // refresh catches up on the next request
  return std::max(wake, now + 1);
}

}  // namespace npusim::memory::dram

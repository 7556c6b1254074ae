#include "memory/dram/channel_controller.h"

#include "memory/latency.h"

#include <algorithm>

namespace npusim::memory::dram {

ChannelController::ChannelController(const DramSpec& spec, Done done)
    : spec_(spec),
      done_(std::move(done)),
      timing_(spec),
      seen_(spec.banks(), 0),
      wanted_{std::vector<uint32_t>(spec.banks(), 0), std::vector<uint32_t>(spec.banks(), 0)},
      refresh_due_(spec.refresh == DramConfig::ALL_BANK   ? spec.REFI
                   : spec.refresh == DramConfig::PER_BANK ? spec.REFI / spec.banks()
                                                          : kNever) {
  stats_.read_latency.assign(kLatencyBuckets, 0);
  refreshed_.assign(spec.banks(), false);
  last_used_.assign(spec.banks(), 0);
}

void ChannelController::account(uint64_t now) {
  if (now > stats_.last_clock) {
    stats_.occupancy_sum += (now - stats_.last_clock) * (read_bursts_ + write_bursts_);
    stats_.last_clock = now;
  }
}

void ChannelController::enqueue(const Burst& burst, uint64_t now) {
  if (idle()) catch_up(now);
  account(now);
  (burst.write ? writes_ : reads_).push_back(burst);
  if (timing_.open_row(burst.bank) == burst.row) {
    ++wanted_[burst.write][burst.bank];
    ++hits_[burst.write];
  }
  latest_arrival_ = std::max(latest_arrival_, burst.arrival);
  (burst.write ? write_bursts_ : read_bursts_) += burst.count;
  stats_.occupancy_max =
      std::max(stats_.occupancy_max, static_cast<uint32_t>(read_bursts_ + write_bursts_));
}

void ChannelController::refreshed() {
  if (spec_.refresh == DramConfig::ALL_BANK) {
    refresh_due_ += spec_.REFI;
  } else {
    refresh_due_ += spec_.REFI / spec_.banks();
    refreshed_[refresh_bank_] = true;
    if (++refreshed_count_ == timing_.banks()) {  // a new round: every bank once per tREFI
      std::fill(refreshed_.begin(), refreshed_.end(), false);
      refreshed_count_ = 0;
    }
  }
}

// Per-bank refresh: within a round every bank is refreshed once, in any
// order. Take the bank the queue needs last (an idle one if any), and among
// equals the one used most recently (a streaming sweep needs it last), so
// that the refresh hides behind the traffic.
uint32_t ChannelController::pick_refresh_bank() const {
  if (timing_.banks() <= 64) {
    // Banks as bits: most often an unrefreshed bank has nothing queued.
    uint64_t queued = 0, left = 0;
    for (const auto* q : {&reads_, &writes_}) {
      for (const Burst& b : *q) queued |= uint64_t{1} << b.bank;
    }
    for (uint32_t b = 0; b < timing_.banks(); ++b) left |= uint64_t{!refreshed_[b]} << b;
    if (const uint64_t idle = left & ~queued; idle != 0) {
      uint32_t best = kClosed;
      for (uint64_t m = idle; m != 0; m &= m - 1) {
        const auto b = static_cast<uint32_t>(__builtin_ctzll(m));
        if (best == kClosed || last_used_[b] > last_used_[best]) best = b;
      }
      return best;
    }
  }
  constexpr size_t kIdle = SIZE_MAX;
  std::vector<size_t>& needed = needed_;  // per bank: queue position of its oldest entry
  needed.assign(timing_.banks(), kIdle);
  for (const auto* q : {&reads_, &writes_}) {
    for (size_t i = 0; i < q->size(); ++i) {
      size_t& n = needed[(*q)[i].bank];
      n = std::min(n, i);
    }
  }
  uint32_t best = kClosed;
  for (uint32_t b = 0; b < timing_.banks(); ++b) {
    if (refreshed_[b]) continue;
    if (best == kClosed || needed[b] > needed[best] ||
        (needed[b] == needed[best] && last_used_[b] > last_used_[best])) {
      best = b;
    }
  }
  return best;
}

void ChannelController::catch_up(uint64_t now) {
  if (spec_.refresh == DramConfig::NO_REFRESH) return;
  const bool all = spec_.refresh == DramConfig::ALL_BANK;
  while (refresh_due_ <= now) {
    // What the controller would have done at the due clock: close the banks
    // the refresh needs, then refresh.
    const uint64_t due = refresh_due_;
    if (!all) refresh_bank_ = pick_refresh_bank();
    const uint32_t first = all ? 0 : refresh_bank_;
    const uint32_t last = all ? timing_.banks() : refresh_bank_ + 1;
    for (uint32_t b = first; b < last; ++b) {
      if (timing_.open_row(b) != kClosed) {
        issue(Command::PRE, b, std::max(due, timing_.earliest(Command::PRE, b)));
      }
    }
    const Command ref = all ? Command::REFab : Command::REFpb;
    issue(ref, refresh_bank_, std::max(due, timing_.earliest(ref, refresh_bank_)));
    stats_.refresh_bank_cycles += all ? uint64_t{spec_.RFC} * spec_.banks() : spec_.RFCpb;
    refreshed();
  }
}

void ChannelController::issue(Command c, uint32_t bank, uint64_t now, uint32_t row) {
  timing_.issue(c, bank, now, row);
  if (c == Command::RD || c == Command::WR) last_used_[bank] = now;
  ++stats_.commands[static_cast<size_t>(c)];
  if (c == Command::PRE) {
    for (size_t w = 0; w < 2; ++w) {
      hits_[w] -= wanted_[w][bank];
      wanted_[w][bank] = 0;
    }
  }
  if (c == Command::ACT) {
    for (const auto* q : {&reads_, &writes_}) {
      uint32_t n = 0;
      for (const Burst& b : *q) n += b.bank == bank && b.row == row;
      const size_t w = q == &writes_;
      hits_[w] += n - wanted_[w][bank];
      wanted_[w][bank] = n;
    }
  }
}

// Closed page: a column command to a row no queued entry still wants closes
// it (auto-precharge, RDA/WRA): the PRE issues at its earliest clock.
void ChannelController::auto_precharge(uint32_t bank, uint64_t now) {
  if (spec_.page_policy != DramConfig::CLOSED_PAGE || row_wanted(reads_, bank) ||
      row_wanted(writes_, bank)) {
    return;
  }
  issue(Command::PRE, bank, std::max(now, timing_.earliest(Command::PRE, bank)));
}

void ChannelController::removed(const Burst& b) {
  if (timing_.open_row(b.bank) == b.row) {
    --wanted_[b.write][b.bank];
    --hits_[b.write];
  }
}

bool ChannelController::schedule(BurstQueue& q, uint64_t now, uint64_t& wake) {
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
    if (seen_[b.bank] == scan_ || timing_.open_row(b.bank) != b.row) continue;
    seen_[b.bank] = scan_;
    const Command c = b.write ? Command::WR : Command::RD;
    const uint64_t t = timing_.earliest(c, b.bank);
    if (t > now) {
      wake = std::min(wake, t);
      continue;
    }
    column_issued_ = true;
    if (b.count > 1) {
      serve_runs(q, i, now);
      return true;
    }
    issue(c, b.bank, now);
    account(now);
    served(b, now, 1);
    const Burst done = b;
    removed(done);
    q.erase(i);
    auto_precharge(done.bank, now);
    done_(done.request, 1, now + (done.write ? spec_.CWL : spec_.CL) + spec_.burst_cycles);
    return true;
  }
  if (floor > now) wake = std::min(wake, floor);
  // Then the oldest request's next row command (ACT, or PRE on a conflict
  // that no queued request still hits). A bank's oldest entry decides its
  // row command, so each bank is checked once.
  ++scan_;
  for (Burst& b : q) {
    if (b.arrival > now || seen_[b.bank] == scan_) continue;
    seen_[b.bank] = scan_;
    const uint32_t open = timing_.open_row(b.bank);
    if (open == b.row) continue;  // a hit waiting for its column timing
    const Command c = open == kClosed ? Command::ACT : Command::PRE;
    if (c == Command::PRE && row_wanted(q, b.bank)) continue;
    const uint64_t t = timing_.earliest(c, b.bank);
    if (t > now) {
      wake = std::min(wake, t);
      continue;
    }
    issue(c, b.bank, now, b.row);
    if (c == Command::PRE) {
      for (Burst& o : q) {
        if (o.bank == b.bank && o.outcome == 0) o.outcome = 2;
      }
    } else {
      if (b.outcome == 0) b.outcome = 1;
      // Whole-row entries (fast path): open the other bank groups' rows now
      // too, at the clocks the burst-level path would.
      if (b.count > 1) open_rows(q, now + 1, b.bank);
    }
    return true;
  }
  return false;
}

// Counts `bursts` column commands of `b`, the last at `clock`.
void ChannelController::served(Burst& b, uint64_t clock, uint32_t bursts) {
  (b.write ? write_bursts_ : read_bursts_) -= bursts;
  const uint64_t end = clock + (b.write ? spec_.CWL : spec_.CL) + spec_.burst_cycles;
  stats_.data_cycles += uint64_t{bursts} * spec_.burst_cycles;
  (b.write ? stats_.write_bytes : stats_.read_bytes) += bursts * spec_.burst_bytes();
  // The entry's first burst carries its miss or conflict; the rest hit.
  (b.outcome == 0 ? stats_.row_hits : b.outcome == 1 ? stats_.row_misses : stats_.row_conflicts)++;
  stats_.row_hits += bursts - 1;
  b.outcome = 0;
  if (!b.write) {
    stats_.read_latency[latency_bucket(end - b.arrival)] += bursts;
  }
  if (bursts > 1) {
    stats_.commands[static_cast<size_t>(b.write ? Command::WR : Command::RD)] += bursts - 1;
  }
}

// Row commands the burst-level path would interleave with a row batch's
// columns: open (and if need be close) the row of the oldest queued entry of
// each bank group, at the earliest clock from `from` (not `skip`).
void ChannelController::open_rows(BurstQueue& q, uint64_t from, uint32_t skip) {
  auto group = [&](const Burst& b) { return uint64_t{1} << (b.bank / spec_.banks_per_group); };
  uint64_t visited = 0;
  for (Burst& b : q) {
    if (b.arrival > from || b.bank == skip || (visited & group(b))) continue;
    visited |= group(b);
    const uint32_t open = timing_.open_row(b.bank);
    if (open == b.row) continue;
    if (open != kClosed) {
      if (row_wanted(q, b.bank)) continue;
      issue(Command::PRE, b.bank, std::max(from, timing_.earliest(Command::PRE, b.bank)));
      for (Burst& o : q) {
        if (o.bank == b.bank && o.outcome == 0) o.outcome = 2;
      }
    }
    issue(Command::ACT, b.bank, std::max(from, timing_.earliest(Command::ACT, b.bank)), b.row);
    if (b.outcome == 0) b.outcome = 1;
  }
}

void ChannelController::serve_runs(BurstQueue& q, size_t first, uint64_t now) {
  const Command c = q[first].write ? Command::WR : Command::RD;
  auto group = [&](const Burst& b) { return uint64_t{1} << (b.bank / spec_.banks_per_group); };
  open_rows(q, now, q[first].bank);
  const bool per_bank = spec_.refresh == DramConfig::PER_BANK;
  // The batch: this run and the oldest ready whole-row run of every other
  // bank group. Runs whose rows open later bound how long the batch runs,
  // so that they join the next one.
  std::vector<size_t>& batch = batch_;
  batch.assign(1, first);
  uint64_t groups = group(q[first]);
  auto candidate = [&](size_t j) {
    const Burst& b = q[j];
    return j != first && b.count > 1 && b.arrival <= now && b.write == q[first].write &&
           timing_.open_row(b.bank) == b.row;
  };
  for (size_t j = 0; j < q.size(); ++j) {
    if (candidate(j) && !(groups & group(q[j])) && timing_.earliest(c, q[j].bank) <= now) {
      batch.push_back(j);
      groups |= group(q[j]);
    }
  }
  // While the batch cannot yet fill the data bus (tCCD_L within a group),
  // it ends when a row of another bank group becomes ready to join.
  uint64_t join = kNever;
  if (batch.size() * spec_.CCD_S < spec_.CCD_L) {
    for (size_t j = 0; j < q.size(); ++j) {
      if (candidate(j) && !(groups & group(q[j]))) {
        join = std::min(join, timing_.earliest(c, q[j].bank));
      }
    }
  }
  // First round, exactly: one column command per clock at the earliest.
  std::vector<uint64_t>& start = start_;
  start.resize(batch.size());
  uint64_t t = now;
  uint32_t rounds = UINT32_MAX;
  for (size_t i = 0; i < batch.size(); ++i) {
    Burst& b = q[batch[i]];
    t = std::max(i == 0 ? now : t + 1, timing_.earliest(c, b.bank));
    issue(c, b.bank, t);
    start[i] = t;
    rounds = std::min(rounds, b.count);
  }
  const uint64_t k = batch.size();
  const uint64_t period =
      std::max({k * spec_.CCD_S, uint64_t{spec_.CCD_L}, k * spec_.burst_cycles});
  // Stop before an all-bank refresh falls due, or when another row becomes
  // ready. (A per-bank refresh that falls due meanwhile takes a bank the
  // batch does not use, and is planned when the batch ends, at its due
  // clock.)
  const uint64_t until = std::min(per_bank ? kNever : refresh_due_, join);
  if (until != kNever && rounds > 1) {
    const uint64_t room = until > start[0] ? (until - start[0]) / period + 1 : 1;
    rounds = static_cast<uint32_t>(std::min<uint64_t>(rounds, room));
  }
  account(now);
  uint64_t last = t;
  for (size_t i = 0; i < batch.size(); ++i) {
    Burst& b = q[batch[i]];
    const uint64_t at = start[i] + (rounds - 1) * period;
    if (rounds > 1) timing_.issue(c, b.bank, at);  // counted by served()
    last_used_[b.bank] = at;
    last = std::max(last, at);
    served(b, at, rounds);
    b.count -= rounds;
    b.column += rounds;
    done_(b.request, rounds, at + (b.write ? spec_.CWL : spec_.CL) + spec_.burst_cycles);
  }
  for (const Burst& b : q) {
    if (b.count == 0) removed(b);
  }
  for (size_t i : batch) {
    if (q[i].count == 0) auto_precharge(q[i].bank, now);
  }
  q.remove_finished();
  busy_until_ = last;
}

uint64_t ChannelController::step(uint64_t now) {
  if (now <= busy_until_ && busy_until_ != 0) return busy_until_ + 1;  // planned commands
  account(now);
  uint64_t wake = kNever;
  // Refreshes that fell due are planned at their due clocks: the banks they
  // need close at their earliest, then the refresh; other banks go on.
  catch_up(now);
  if (idle()) return kNever;
  if (refresh_due_ != kNever) wake = refresh_due_;

  // Write drain between the watermarks; reads otherwise.
  if (!draining_ && (writes_.size() >= spec_.write_high || (reads_.empty() && !writes_.empty()))) {
    draining_ = true;
  } else if (draining_ &&
             (writes_.empty() || (writes_.size() <= spec_.write_low && !reads_.empty()))) {
    draining_ = false;
  }
  column_issued_ = false;
  if (schedule(draining_ ? writes_ : reads_, now, wake)) {
    if (busy_until_ > now) return busy_until_ + 1;  // a row batch planned its commands
    // After a column command, when every queued burst of the active queue
    // hits an open row, nothing can issue before the data bus allows the
    // next column command: sleep until then instead of polling each clock.
    BurstQueue& q = draining_ ? writes_ : reads_;
    if (column_issued_ && refresh_due_ > now + 1 &&
        (draining_ ? reads_.empty() : writes_.size() + 1 < spec_.write_high) &&
        latest_arrival_ <= now && hits_[draining_] == q.size()) {
      const uint64_t floor = timing_.channel_floor(draining_ ? Command::WR : Command::RD);
      return std::max(now + 1, std::min(floor, refresh_due_));
    }
    return now + 1;
  }

  if (idle()) return kNever;  // refresh catches up on the next request
  return std::max(wake, now + 1);
}

}  // namespace npusim::memory::dram

#include "memory/dram/channel_controller.h"

#include "common/integer.h"
#include "memory/latency.h"

#include <algorithm>

// The functions every planned row goes through are inlined into their
// callers in this file, which GCC's heuristics did not do (a Llama-2-7B
// decode token then takes 8% fewer instructions); issue() stays out of line
// for exclusive work (memory/pim).
#define NPUSIM_ROW_PATH [[gnu::always_inline]] inline

namespace npusim::memory::dram {

ChannelController::ChannelController(const DramSpec& spec, ChannelOwner& owner, uint32_t channel)
    : spec_(spec),
      owner_(owner),
      channel_(channel),
      refresh_due_(spec.refresh == DramConfig::ALL_BANK   ? spec.REFI
                   : spec.refresh == DramConfig::PER_BANK ? spec.REFI / spec.banks()
                                                          : kNever),
      timing_(spec),
      refresh_interval_(refresh_due_),
      bank_(spec.banks()) {
  stats_.read_latency.assign(kLatencyBuckets, 0);
  unrefreshed_mask_ = all_banks_mask();
  slot_ = std::max<uint64_t>({1, spec.CCD_S, spec.burst_cycles});
  const uint64_t lanes = std::max<uint64_t>(1, ceil_div(spec.CCD_L, slot_));
  nlanes_ = static_cast<uint32_t>(lanes);
  if (lanes <= kInlineLanes) {
    lanes_ = inline_lanes_.data();
  } else {
    heap_lanes_.resize(lanes);
    lanes_ = heap_lanes_.data();
  }
  period_ = lanes * slot_;
  period_pow2_ = (period_ & (period_ - 1)) == 0;
  turnaround_ = {spec.read_to_write(), uint64_t{spec.CWL} + spec.burst_cycles + spec.WTR_L};
  last_used_.assign(spec.banks(), 0);
}

void ChannelController::enqueue(const Burst& burst, uint64_t now) {
  if (idle()) catch_up(now);
  account(now);
  (burst.write ? writes_ : reads_).push_back(burst);
  ++bank_[burst.bank].entries[burst.write];
  queued_mask_ |= bank_bit(burst.bank);
  singles_[burst.write] += !burst.as_unit;
  if (timing_.open_row(burst.bank) == burst.row) {
    ++bank_[burst.bank].wanted[burst.write];
    ++hits_[burst.write];
  }
  latest_arrival_ = std::max(latest_arrival_, burst.arrival);
  (burst.write ? write_bursts_ : read_bursts_) += burst.count;
  queued_[burst.write] += burst.count;
  stats_.occupancy_max = std::max(stats_.occupancy_max, static_cast<uint32_t>(held()));
}

void ChannelController::exclusive_arrived(uint64_t now) {
  if (idle()) catch_up(now);
  account(now);
}

NPUSIM_ROW_PATH void ChannelController::refreshed() {
  refresh_due_ += refresh_interval_;
  if (spec_.refresh != DramConfig::ALL_BANK) {
    // (Up to 64 banks, the mask alone: the per-bank flag is another cache
    // line per refresh.)
    if (timing_.banks() > 64) bank_[refresh_bank_].refreshed = true;
    unrefreshed_mask_ &= ~bank_bit(refresh_bank_);
    if (++refreshed_count_ == timing_.banks()) {  // a new round: every bank once per tREFI
      if (timing_.banks() > 64) {
        for (BankState& b : bank_) b.refreshed = false;
      }
      unrefreshed_mask_ = all_banks_mask();
      refreshed_count_ = 0;
    }
  }
}

// Per-bank refresh: within a round every bank is refreshed once, in any
// order. Take the bank the queue needs last (an idle one if any), and among
// equals the one used most recently (a streaming sweep needs it last), so
// that the refresh hides behind the traffic.
NPUSIM_ROW_PATH uint32_t ChannelController::pick_refresh_bank() {
  if (timing_.banks() <= 64) {
    // Banks as bits: most often an unrefreshed bank has nothing queued.
    if (const uint64_t idle = unrefreshed_mask_ & ~queued_mask_; idle != 0) {
      // The most recently used of them, the lowest among equals: the most
      // recently used bank of all, when it is one of them.
      if (mru_bank_ == kClosed) {
        mru_bank_ = most_recent_of(all_banks_mask());
        mru_used_ = last_used_[mru_bank_];
      }
      if ((idle >> mru_bank_) & 1) return mru_bank_;
      return most_recent_of(idle);
    }
  }
  return pick_needed_last();
}

uint32_t ChannelController::pick_needed_last() {
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
    if (timing_.banks() <= 64 ? (unrefreshed_mask_ & bank_bit(b)) == 0 : bank_[b].refreshed) {
      continue;
    }
    if (best == kClosed || needed[b] > needed[best] ||
        (needed[b] == needed[best] && last_used_[b] > last_used_[best])) {
      best = b;
    }
  }
  return best;
}

void ChannelController::refresh_until(uint64_t now) {
  const bool all = spec_.refresh == DramConfig::ALL_BANK;
  const Command ref = all ? Command::REFab : Command::REFpb;
  const uint64_t interval = refresh_interval_;
  const uint64_t round = all ? 1 : timing_.banks();  // refreshes until every bank had one
  const uint64_t per_refresh = all ? uint64_t{spec_.RFC} * spec_.banks() : spec_.RFCpb;
  while (refresh_due_ <= now) {
    // Nothing queued at the start of a round, and either every bank closed
    // and free by the due clock or the last round clean (each refresh at its
    // due clock, nothing else issued: per-bank refreshes overlap, tRFCpb
    // being longer than their spacing, so the banks are never all free):
    // every round up to `now` repeats this one exactly (each refresh at its
    // due clock, the same banks in the same order), so all but the last are
    // counted in closed form, not replayed. An idle second is 256k
    // refreshes per channel.
    // (Most often one refresh is due: no division then.)
    const uint64_t rounds =
        now - refresh_due_ < 2 * interval * round ? 0 : (now - refresh_due_) / (interval * round);
    if (rounds > 1 && refreshed_count_ == 0 && idle() &&
        (last_round_clean_ || settled_by(ref, refresh_due_))) {
      const uint64_t skipped = (rounds - 1) * round;
      stats_.commands[static_cast<size_t>(ref)] += skipped;
      stats_.refresh_bank_cycles += skipped * per_refresh;
      refresh_due_ += skipped * interval;
    }
    // What the controller would have done at the due clock: close the banks
    // the refresh needs, then refresh.
    const uint64_t due = refresh_due_;
    if (refreshed_count_ == 0) round_clean_ = true;  // a round starts
    if (!idle()) round_clean_ = false;
    const auto close = [&](uint32_t b) {
      if (timing_.open_row(b) != kClosed) {
        record(Command::PRE, b, std::max(due, timing_.earliest(Command::PRE, b)));
      }
    };
    uint64_t at;
    if (all) {
      for (uint32_t b = 0; b < timing_.banks(); ++b) close(b);
      at = std::max(due, timing_.earliest(Command::REFab, 0));
      record(Command::REFab, 0, at);
    } else {  // (the commands spelled out: the per-bank case runs every few rows)
      refresh_bank_ = pick_refresh_bank();
      close(refresh_bank_);
      at = std::max(due, timing_.earliest(Command::REFpb, refresh_bank_));
      record(Command::REFpb, refresh_bank_, at);
    }
    if (at != due) round_clean_ = false;
    stats_.refresh_bank_cycles += per_refresh;
    refreshed();
    if (refreshed_count_ == 0) last_round_clean_ = round_clean_;
  }
}

uint32_t ChannelController::most_recent_of(uint64_t banks) const {
  auto best = static_cast<uint32_t>(__builtin_ctzll(banks));
  uint64_t best_used = last_used_[best];
  for (uint64_t m = banks & (banks - 1); m != 0; m &= m - 1) {
    const auto b = static_cast<uint32_t>(__builtin_ctzll(m));
    if (last_used_[b] > best_used) {
      best = b;
      best_used = last_used_[b];
    }
  }
  return best;
}

bool ChannelController::settled_by(Command ref, uint64_t clock) const {
  for (uint32_t b = 0; b < timing_.banks(); ++b) {
    if (timing_.open_row(b) != kClosed || timing_.earliest(ref, b) > clock) return false;
  }
  return true;
}

template <bool kQueued>
NPUSIM_ROW_PATH void ChannelController::record(Command c, uint32_t bank, uint64_t now,
                                               uint32_t row) {
  timing_.issue(c, bank, now, row);
  if (c != Command::REFab && c != Command::REFpb) round_clean_ = last_round_clean_ = false;
  if (c == Command::RD || c == Command::WR) {
    // The most recently used bank stays known while columns only move
    // clocks forward (a bank's columns do); any other change rescans.
    const uint64_t before = last_used_[bank];
    last_used_[bank] = now;
    if (mru_bank_ != kClosed) {
      if (bank == mru_bank_) {
        if (now < before) mru_bank_ = kClosed;
        mru_used_ = now;
      } else if (now > mru_used_ || (now == mru_used_ && bank < mru_bank_)) {
        mru_bank_ = bank;
        mru_used_ = now;
      }
    }
  }
  ++stats_.commands[static_cast<size_t>(c)];
  if (!kQueued) return;                // no entry wants a row
  if (c == Command::PRE && !idle()) {  // (idle: no entry wants a row)
    for (size_t w = 0; w < 2; ++w) {
      hits_[w] -= bank_[bank].wanted[w];
      bank_[bank].wanted[w] = 0;
    }
  }
  if (c == Command::ACT) {
    // The queued entries for the row it opens: of the bank's entries
    // (counted), so the scan stops at the bank's last one (most often the
    // bank has none: a row planned as it arrives).
    for (size_t w = 0; w < 2; ++w) {
      if (bank_[bank].entries[w] == 0 && bank_[bank].wanted[w] == 0) continue;
      const BurstQueue& q = w == 0 ? reads_ : writes_;
      uint32_t n = 0;
      uint32_t left = bank_[bank].entries[w];
      for (const Burst* b = q.begin(); left > 0 && b != q.end(); ++b) {
        if (b->bank != bank) continue;
        --left;
        n += b->row == row;
      }
      hits_[w] += n - bank_[bank].wanted[w];
      bank_[bank].wanted[w] = n;
    }
  }
}

void ChannelController::issue(Command c, uint32_t bank, uint64_t now, uint32_t row) {
  record(c, bank, now, row);
}

// Closed page: a column command to a row no queued entry still wants closes
// it (auto-precharge, RDA/WRA): the PRE issues at its earliest clock.
template <bool kQueued>
NPUSIM_ROW_PATH void ChannelController::auto_precharge(uint32_t bank, uint64_t now) {
  if (spec_.page_policy != DramConfig::CLOSED_PAGE ||
      (kQueued && (row_wanted(reads_, bank) || row_wanted(writes_, bank)))) {
    return;
  }
  record<kQueued>(Command::PRE, bank, std::max(now, timing_.earliest(Command::PRE, bank)));
}

inline void ChannelController::removed(const Burst& b) {
  if (--bank_[b.bank].entries[b.write] == 0 && bank_[b.bank].entries[!b.write] == 0) {
    queued_mask_ &= ~bank_bit(b.bank);
  }
  singles_[b.write] -= !b.as_unit;
  if (timing_.open_row(b.bank) == b.row) {
    --bank_[b.bank].wanted[b.write];
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
    if (b.as_unit) continue;  // plan_rows() serves it
    if (bank_[b.bank].seen == scan_ || timing_.open_row(b.bank) != b.row) continue;
    bank_[b.bank].seen = scan_;
    const Command c = b.write ? Command::WR : Command::RD;
    const uint64_t t = timing_.earliest(c, b.bank);
    if (t > now) {
      wake = std::min(wake, t);
      continue;
    }
    column_issued_ = true;
    record(c, b.bank, now);
    // What it leaves for the fast path's next row: the bus (tCCD_S) and the
    // other direction (turnaround); its bank group's tCCD_L is in the timing.
    bus_free_ = std::max(bus_free_, now + spec_.CCD_S);
    turnaround(b.write, now);
    account(now);
    served(b, now, 1);
    (b.write ? write_bursts_ : read_bursts_) -= 1;
    queued_[b.write] -= 1;
    const Burst done = b;
    removed(done);
    q.erase(i);
    auto_precharge(done.bank, now);
    owner_.row_done(channel_, done.request, 1,
                    now + (done.write ? spec_.CWL : spec_.CL) + spec_.burst_cycles);
    return true;
  }
  if (floor > now) wake = std::min(wake, floor);
  // Then the oldest request's next row command (ACT, or PRE on a conflict
  // that no queued request still hits). A bank's oldest entry decides its
  // row command, so each bank is checked once; when every entry hits an
  // open row, none is needed.
  if (hits_[writes] == q.size()) return false;
  // Only a bank with an entry for another row can need one, and not while
  // an entry of this queue still wants its open row (its oldest entry is
  // then a hit waiting for its column, or a miss whose PRE must wait): once
  // every such bank's oldest entry has been checked, the rest of the queue
  // cannot.
  uint64_t todo = ~uint64_t{0};
  const bool masked = timing_.banks() <= 64;
  if (masked) {
    todo = 0;
    for (uint64_t m = queued_mask_; m != 0; m &= m - 1) {
      const auto bank = static_cast<uint32_t>(__builtin_ctzll(m));
      const BankState& s = bank_[bank];
      if (s.wanted[writes] == 0 && s.entries[writes] > 0) todo |= uint64_t{1} << bank;
    }
  }
  ++scan_;
  Burst* const end = q.end();
  for (Burst* it = q.begin(); todo != 0; ++it) {
    // A bank out of `todo` (checked, or nothing to do) is passed over in a
    // tight loop: most of a long queue is hits waiting for the bus.
    if (masked) {
      while (it != end && ((todo >> it->bank) & 1) == 0) ++it;
    }
    if (it == end) break;
    Burst& b = *it;
    if (b.arrival > now || b.as_unit || bank_[b.bank].seen == scan_) continue;
    bank_[b.bank].seen = scan_;
    todo &= ~bank_bit(b.bank);
    const uint32_t open = timing_.open_row(b.bank);
    if (open == b.row) continue;  // a hit waiting for its column timing
    const Command c = open == kClosed ? Command::ACT : Command::PRE;
    if (c == Command::PRE && row_wanted(q, b.bank)) continue;
    const uint64_t t = timing_.earliest(c, b.bank);
    if (t > now) {
      wake = std::min(wake, t);
      continue;
    }
    record(c, b.bank, now, b.row);
    // The entry that closes another row meets a conflict, the one that opens
    // a closed bank a miss; the entries after it in the same row then hit
    // (one outcome per activation, not per queued burst).
    if (c == Command::PRE) {
      if (b.outcome == 0) b.outcome = 2;
    } else if (b.outcome == 0) {
      b.outcome = 1;
    }
    return true;
  }
  return false;
}

// Counts `bursts` column commands of `b`, the last at `clock`.
NPUSIM_ROW_PATH void ChannelController::served(Burst& b, uint64_t clock, uint32_t bursts) {
  const uint64_t end = clock + (b.write ? spec_.CWL : spec_.CL) + spec_.burst_cycles;
  stats_.data_cycles += uint64_t{bursts} * spec_.burst_cycles;
  if (resources_.ledger != nullptr) {
    // The data of column i moves CL (CWL) after it; a whole row's columns
    // are period_ clocks apart, the last at `clock`. Counted at the middle
    // of the row's data (a row's tens of ns are well inside the ledger's
    // resolution over a run), with the ACT that opened the row when it
    // needed one (its first burst carries the miss or conflict).
    const uint64_t first = end - spec_.burst_cycles - uint64_t{bursts - 1} * period_;
    resources_.ledger->add_at(spec_.ps_of((first + end) / 2), resources_.bus,
                              static_cast<double>(uint64_t{bursts} * spec_.burst_cycles),
                              resources_.act, b.outcome != 0 ? 1.0 : 0.0);
  }
  (b.write ? stats_.write_bytes : stats_.read_bytes) += bursts * spec_.burst_bytes();
  // The entry's first burst carries its miss or conflict; the rest hit.
  (b.outcome == 0 ? stats_.row_hits : b.outcome == 1 ? stats_.row_misses : stats_.row_conflicts)++;
  stats_.row_hits += bursts - 1;
  b.outcome = 0;
  if (!b.write) {
    // From reaching the channel to the data's end. A row's columns are
    // period_ apart, the last at `clock`: each half of them is counted at
    // its middle (the mean is exact; a percentile is within a quarter row).
    const uint64_t last = end - b.arrival + b.waited;
    const uint32_t early = bursts / 2, late = bursts - early;
    stats_.read_latency[latency_bucket(last - (late - 1) * period_ / 2)] += late;
    if (early > 0) {
      stats_.read_latency[latency_bucket(last - late * period_ - (early - 1) * period_ / 2)] +=
          early;
    }
  }
  if (bursts > 1) {
    stats_.commands[static_cast<size_t>(b.write ? Command::WR : Command::RD)] += bursts - 1;
  }
}

NPUSIM_ROW_PATH void ChannelController::turnaround(bool write, uint64_t column) {
  // (The data must be written, then tWTR, the long one: any bank group; the
  // read data must leave the bus, then the bus turns around.)
  dir_free_[!write] = std::max(dir_free_[!write], column + turnaround_[write]);
}

NPUSIM_ROW_PATH bool ChannelController::drain_flips(uint64_t now) const {
  // No writes: a drain ends, none starts (most often: reads only).
  if (writes_.empty()) return draining_;
  // The oldest write has waited too long: drain it even below the watermark.
  const bool aged = spec_.write_age > 0 && now >= writes_[0].arrival + spec_.write_age;
  // Writes queued ahead of their arrival (a request is queued when it is
  // sent, its bursts arriving later) neither start a drain nor keep one
  // going while reads wait: until the oldest arrives, the reads are served.
  const bool arrived = writes_[0].arrival <= now;
  return draining_ ? !reads_.empty() && (!arrived || (queued_[1] <= spec_.write_low && !aged))
                   : reads_.empty() || (arrived && (queued_[1] >= spec_.write_high || aged));
}

NPUSIM_ROW_PATH ChannelController::Placement ChannelController::place(const Burst& b,
                                                                      uint64_t now) const {
  const bool write = b.write;
  Placement p;
  uint64_t ready;
  const uint32_t open = timing_.open_row(b.bank);
  if (open == b.row) {
    ready = timing_.bank_floor(write ? Command::WR : Command::RD, b.bank);
  } else {
    uint64_t after_pre = 0;
    if (open != kClosed) {
      p.pre = std::max(now, timing_.earliest(Command::PRE, b.bank));
      after_pre = p.pre + spec_.RP;
    }
    p.act = std::max({now, timing_.earliest(Command::ACT, b.bank), after_pre});
    ready = p.act + (write ? spec_.RCD_WR : spec_.RCD_RD);
  }
  const uint64_t floor =
      std::max({ready, now, timing_.group_floor(write ? Command::WR : Command::RD, b.bank),
                dir_free_[write], bus_free_});
  // The first slot of lane j at or after the floor and the lane's next. A
  // used lane's next is one of its slots (commit_row()), so past the floor
  // it is the start; else the lane's first slot from the floor.
  // (Locals, not p's fields: p may be the caller's, which could alias the
  // lanes, so each store would reload them.)
  const uint64_t r = period_pow2_ ? floor & (period_ - 1) : floor % period_;
  const Lane* lanes = lanes_;
  const size_t n = nlanes_;
  uint64_t best = kNever;
  size_t best_lane = 0;
  for (size_t j = 0; j < n; ++j) {
    const uint64_t next = lanes[j].next;
    const uint64_t phase = j * slot_;
    const uint64_t start =
        next > floor ? next : floor + (phase >= r ? phase - r : phase + period_ - r);
    if (start < best) {
      best = start;
      best_lane = j;
    }
  }
  p.start = best;
  p.lane = best_lane;
  return p;
}

NPUSIM_ROW_PATH uint32_t ChannelController::before_refresh(const Burst& b,
                                                           const Placement& p) const {
  // A per-bank refresh due before a part row's first command goes first,
  // at its due clock: planned after such short rows (a burst-interleaved
  // mapping's few columns per bank), it would be pinned behind them (and
  // with it the channel's ACT spacing), holding back every row planned
  // later, as burst by burst never does (16 KiB requests: 298 against 819
  // GB/s). Whole rows are long enough that waiting costs more simulation
  // time than it changes (DramFastPath tests: both within 2%).
  if (spec_.refresh == DramConfig::PER_BANK && b.count < spec_.columns &&
      std::min({p.pre, p.act, p.start}) >= refresh_due_) {
    return 0;
  }
  // An all-bank refresh stops every bank when it falls due: the columns
  // up to then are served, and the rest of the row waits for it (and a
  // new ACT), as burst by burst.
  if (spec_.refresh == DramConfig::ALL_BANK) {
    if (p.start >= refresh_due_) return 0;
    return static_cast<uint32_t>(
        std::min<uint64_t>(b.count, (refresh_due_ - p.start) / period_ + 1));
  }
  return b.count;
}

NPUSIM_ROW_PATH uint64_t ChannelController::room_wake(size_t reads, size_t writes,
                                                      uint64_t now) const {
  // A queue held full by planned rows has room again after the first of them
  // (one already past, not yet retired, makes room at the next clock).
  if (planned_head_ < planned_.size() &&
      (reads + in_flight_[0] >= spec_.read_queue || writes + in_flight_[1] >= spec_.write_queue)) {
    return std::max(planned_[planned_head_].last + 1, now + 1);
  }
  return kNever;
}

void ChannelController::plan_rows(BurstQueue& q, uint64_t now, uint64_t& wake) {
  const bool write = &q == &writes_;
  bool behind_single = false;
  bool waits_for_hit = false;  // a row passed over for a later hit on its bank
  for (size_t i = 0; i < q.size();) {
    // No row, however ready its bank, starts before a lane is free.
    if (const uint64_t free = lane_free(); free > now + kPlanWindow) {
      wake = std::min(wake, free - kPlanWindow);
      return;
    }
    Burst& b = q[i];
    // An older single burst goes first, burst by burst (schedule()); only
    // rows that hit their bank's open row pass it, as FR-FCFS lets hits
    // pass. (The single may be waiting for such a row to close its bank.)
    if (!b.as_unit) {
      behind_single = true;
      ++i;
      continue;
    }
    if (behind_single && timing_.open_row(b.bank) != b.row) {
      ++i;
      continue;
    }
    if (b.arrival > now) {
      wake = std::min(wake, b.arrival);
      ++i;
      continue;
    }
    // A queued entry still hits this bank's open row: FR-FCFS serves it first.
    const uint32_t open = timing_.open_row(b.bank);
    if (open != kClosed && open != b.row && row_wanted(q, b.bank)) {
      waits_for_hit = true;
      ++i;
      continue;
    }
    const Placement p = place(b, now);
    if (p.start > now + kPlanWindow) {
      wake = std::min(wake, p.start - kPlanWindow);
      ++i;
      continue;
    }
    const uint32_t bursts = before_refresh(b, p);
    if (bursts == 0) {
      wake = std::min(wake, refresh_due_);
      return;
    }
    commit_row(b, p, bursts, now);
    queued_[write] -= bursts;
    if (bursts < b.count) {  // the rest after the refresh
      b.count -= bursts;
      b.column = static_cast<uint16_t>(b.column + bursts);
      wake = std::min(wake, refresh_due_);
      return;
    }
    const uint32_t bank = b.bank;
    removed(b);
    q.erase(i);
    auto_precharge(bank, now);
    if (waits_for_hit) {  // that hit may have been this row: look again from the start
      waits_for_hit = behind_single = false;
      i = 0;
    }
    if (drain_flips(now)) {  // the other queue's turn: step() switches, one clock on
      wake = std::min(wake, now + 1);
      return;
    }
  }
}

// (Flattened: every call in it inlined, the row path's functions among them;
// 1.6% fewer instructions in a Llama-2-7B token than inlining them alone.)
[[gnu::flatten]] uint64_t ChannelController::arrive(const Burst& in, uint64_t now) {
  const bool write = in.write;
  if (!idle() || !in.as_unit || in.arrival != now ||
      (exclusive_ != nullptr && exclusive_->pending())) {
    enqueue(in, now);
    return step(now);
  }
  catch_up(now);  // as enqueue() and step() would, before anything else
  account(now);
  // What plan_rows() would do with it as the only entry of its queue (the
  // open-row check cannot apply: no other entry wants a row); anything else
  // (a lane or a refresh in the way) goes the usual way.
  const Placement p = lane_free() > now + kPlanWindow ? Placement{} : place(in, now);
  if (p.start > now + kPlanWindow || before_refresh(in, p) < in.count) {
    enqueue(in, now);
    return step(now);
  }
  // enqueue()'s counts that outlive the entry (its bursts occupy the queue
  // until its last column; entries, wanted rows and queued bursts come and
  // go), and step()'s: a queue full of planned rows wakes it, and the
  // entry's direction is served.
  latest_arrival_ = std::max(latest_arrival_, in.arrival);
  (write ? write_bursts_ : read_bursts_) += in.count;
  stats_.occupancy_max = std::max(stats_.occupancy_max, static_cast<uint32_t>(held()));
  uint64_t wake = room_wake(!write, write, now);
  draining_ = write;
  Burst b = in;
  commit_row<false>(b, p, b.count, now);  // (nothing queued: no entry wants a row)
  auto_precharge<false>(b.bank, now);
  // As drain_flips() with no write queued: the drain this write started
  // ends, and the next clock's step turns back to the reads.
  if (write) wake = std::min(wake, now + 1);
  return wake;
}

template <bool kQueued>
NPUSIM_ROW_PATH void ChannelController::commit_row(Burst& b, const Placement& p, uint32_t bursts,
                                                   uint64_t now) {
  const bool write = b.write;
  if (p.pre != kNever) {
    record<kQueued>(Command::PRE, b.bank, p.pre);
    if (b.outcome == 0) b.outcome = 2;
  }
  if (p.act != kNever) {
    record<kQueued>(Command::ACT, b.bank, p.act, b.row);
    if (b.outcome == 0) b.outcome = 1;
  }
  // Columns every period_ clocks in the lane; the last one stands for
  // them all in the timing state.
  const uint64_t last = p.start + (bursts - 1) * period_;
  lanes_[p.lane].next = last + period_;
  uint64_t free = kNever;
  for (size_t j = 0; j < nlanes_; ++j) free = std::min(free, lanes_[j].next);
  lane_free_ = free;
  turnaround(write, last);
  record<kQueued>(write ? Command::WR : Command::RD, b.bank, last);
  account(now);
  served(b, last, bursts);
  owner_.row_done(channel_, b.request, bursts,
                  last + (write ? spec_.CWL : spec_.CL) + spec_.burst_cycles);
  const Planned planned{last, p.act == kNever ? kNoAct : static_cast<uint32_t>(last - p.act),
                        static_cast<uint16_t>(bursts), write};
  if (planned_.size() == planned_head_ || planned_.back().last <= last) {
    planned_.push_back(planned);  // most often the row ends after every planned one
  } else {
    planned_.insert(
        std::upper_bound(planned_.begin() + static_cast<std::ptrdiff_t>(planned_head_),
                         planned_.end(), planned,
                         [](const Planned& x, const Planned& y) { return x.last < y.last; }),
        planned);
  }
  ++in_flight_[write];
}

ChannelController::EnergyCounts ChannelController::energy_counts(uint64_t clock) const {
  EnergyCounts e;
  e.acts = stats_.commands[static_cast<size_t>(Command::ACT)];
  e.read_bytes = stats_.read_bytes;
  e.write_bytes = stats_.write_bytes;
  e.refab = stats_.commands[static_cast<size_t>(Command::REFab)];
  e.refpb = stats_.commands[static_cast<size_t>(Command::REFpb)];
  // Refreshes fall due whether or not the channel has work: one that sleeps
  // replays them only when its next request comes (catch_up()).
  if (spec_.refresh != DramConfig::NO_REFRESH && refresh_due_ <= clock) {
    const bool all = spec_.refresh == DramConfig::ALL_BANK;
    (all ? e.refab : e.refpb) += (clock - refresh_due_) / refresh_interval_ + 1;
  }
  for (size_t i = planned_head_; i < planned_.size(); ++i) {
    const Planned& p = planned_[i];
    if (p.last > clock)
      (p.write ? e.write_bytes : e.read_bytes) -= uint64_t{p.bursts} * spec_.burst_bytes();
    if (p.act_gap != kNoAct && p.last - p.act_gap > clock) --e.acts;
  }
  return e;
}

uint64_t ChannelController::step(uint64_t now) {
  column_issued_ = false;  // (also when it returns early: issued_column())
  account(now);
  uint64_t wake = room_wake(reads_.size(), writes_.size(), now);
  // Refreshes that fell due are planned at their due clocks: the banks they
  // need close at their earliest, then the refresh; other banks go on.
  catch_up(now);
  if (exclusive_ != nullptr && exclusive_->pending()) {
    // Requests queued before it are served first; then it has the channel.
    if (idle()) return std::max(now + 1, exclusive_->plan(*this, now));
  }
  if (idle()) return wake;
  // (A refresh that falls due before the next step is planned then, at its
  // due clock: no step is needed for it.)

  // Write drain between the watermarks; reads otherwise.
  if (drain_flips(now)) draining_ = !draining_;
  BurstQueue& q = draining_ ? writes_ : reads_;
  if (q.size() > singles_[draining_]) plan_rows(q, now, wake);  // whole rows queued
  // Single bursts go burst by burst (whole rows wait for plan_rows()).
  if (singles_[draining_] > 0 && schedule(q, now, wake)) {
    // After a column command, when every queued burst of the active queue
    // hits an open row, nothing can issue before the data bus allows the
    // next column command: sleep until then instead of polling each clock.
    if (column_issued_ && refresh_due_ > now + 1 &&
        (draining_ ? reads_.empty() : queued_[1] + 1 < spec_.write_high) &&
        latest_arrival_ <= now && hits_[draining_] == q.size()) {
      const uint64_t floor = timing_.channel_floor(draining_ ? Command::WR : Command::RD);
      return std::max(now + 1, std::min(floor, refresh_due_));
    }
    return now + 1;
  }

  if (idle()) {  // refresh catches up on the next request
    return exclusive_ != nullptr && exclusive_->pending() ? now + 1 : wake;
  }
  // Reads going on with writes waiting: look again when the oldest arrives
  // (a drain may start then) and when it ages.
  if (!draining_ && !writes_.empty()) {
    if (writes_[0].arrival > now) wake = std::min(wake, writes_[0].arrival);
    if (spec_.write_age > 0) wake = std::min(wake, writes_[0].arrival + spec_.write_age);
  }
  return std::max(wake, now + 1);
}

}  // namespace npusim::memory::dram

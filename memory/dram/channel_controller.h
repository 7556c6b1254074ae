// The memory controller of one DRAM channel: read and write queues, FR-FCFS
// scheduling (ready row hits first, then the oldest request's next command),
// open- or closed-page policy, write drain between two watermarks, and
// all-bank or per-bank refresh. It is event driven: step(now) plans the
// whole rows it can (fast path, below), issues one burst-level command, and
// returns the next clock at which it has anything to do, so idle clocks
// cost nothing. A refresh is
// planned whole once it falls due (the PREs its banks need, then REF, each at
// its earliest clock, as the burst-level controller would issue them; a
// refresh blocks its banks through the timing state, so other banks go on);
// refreshes that fall due while the channel has nothing queued are replayed
// when the next request arrives.
//
// Row-granular fast path: an entry covering a whole row (or the run of its
// columns a request covers) is planned whole, in one step: its PRE and ACT
// at their earliest clocks (the timing state enforces every JEDEC
// constraint on them), and its column commands in a lane of the data bus.
// The bus is split into L = ceil(tCCD_L / slot) lanes, a slot being
// max(tCCD_S, burst) clocks: lane j owns the slots j, j + L, ..., so a row
// in a lane gets a column every tCCD_L or so, and L rows of different bank
// groups interleave to fill the bus, as FR-FCFS interleaves the oldest
// ready rows burst by burst. A row takes the lane where it can start first,
// after its tRCD, its bank group's last column (tCCD_L, or tWTR_L after a
// write) and the read/write turnaround; it is planned once it would start
// within kPlanWindow clocks, oldest first (younger ones go first when an
// older one cannot start within the window, as ready requests do under
// FR-FCFS). Only its last column is recorded in the timing state (later
// constraints follow from it); a planned row holds its queue slot until
// that column. An all-bank refresh falling due stops a row there; the rest
// waits for it and a new ACT, as burst by burst.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "common/resources.h"
#include "memory/dram/channel_timing.h"
#include "memory/dram/spec.h"

namespace npusim::memory::dram {

inline constexpr uint64_t kNever = UINT64_MAX;

// One burst, or (row-granular fast path) `count` bursts to consecutive
// columns of one row, served as a unit.
struct Burst {
  uint64_t arrival = 0;  // clock the request reached the controller's queue
  uint32_t row = 0;
  uint32_t request = 0;  // the owner's id, passed back on completion
  uint32_t count = 1;    // bursts in this entry
  // Clocks it waited for room before `arrival` (read latency counts from
  // when it reached the channel; saturates at 2^32 - 1).
  uint32_t waited = 0;
  uint16_t bank = 0;    // < 64 x 64 banks (memory.proto)
  uint16_t column = 0;  // < 65536 columns
  bool write = false;
  uint8_t outcome = 0;  // 0 row hit, 1 miss (bank closed), 2 conflict (other row open)
  // Row-granular fast path: planned as a unit (plan_rows), a whole row or the
  // part of one a request covers; else burst by burst.
  bool as_unit = false;

  [[nodiscard]] static Burst of(uint64_t arrival, uint32_t bank, uint32_t row, uint32_t column,
                                uint32_t request, uint32_t count, bool write, bool as_unit) {
    Burst b;
    b.arrival = arrival;
    b.row = row;
    b.request = request;
    b.count = count;
    b.bank = static_cast<uint16_t>(bank);
    b.column = static_cast<uint16_t>(column);
    b.write = write;
    b.as_unit = as_unit;
    return b;
  }
};
// 32 bytes: queues index and size it by shifts, not by divisions.
static_assert(sizeof(Burst) == 32);

// A vector consumed from the front through an offset `head`: drops the
// consumed elements once they are all of it, or half of it (and 64 or more).
// (Always inlined: the controller retires planned rows through it per row.)
template <typename T>
[[gnu::always_inline]] inline void compact_front(std::vector<T>& v, size_t& head) {
  if (head == v.size()) {
    v.clear();
    head = 0;
  } else if (head >= 64 && 2 * head >= v.size()) {
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }
}

// A controller queue, oldest first. Entries mostly leave near the front
// (the oldest row hit): the shorter side moves, and the front is an offset
// into the storage, compacted once half of it is gone, so a queue of tens of
// bursts is not shifted for every column command.
class BurstQueue {
 public:
  [[nodiscard]] Burst* begin() { return v_.data() + head_; }
  [[nodiscard]] Burst* end() { return v_.data() + v_.size(); }
  [[nodiscard]] const Burst* begin() const { return v_.data() + head_; }
  [[nodiscard]] const Burst* end() const { return v_.data() + v_.size(); }
  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] Burst& operator[](size_t i) { return v_[head_ + i]; }
  [[nodiscard]] const Burst& operator[](size_t i) const { return v_[head_ + i]; }
  void push_back(const Burst& b) {
    v_.push_back(b);
    ++size_;
  }
  // Removes entry `i`, keeping the order of the others.
  void erase(size_t i) {
    --size_;
    const auto at = static_cast<std::ptrdiff_t>(head_ + i);
    if (i < size() / 2) {
      std::move_backward(v_.begin() + static_cast<std::ptrdiff_t>(head_), v_.begin() + at,
                         v_.begin() + at + 1);
      ++head_;
    } else {
      v_.erase(v_.begin() + at);
    }
    compact_front(v_, head_);
  }

 private:
  size_t size_ = 0;  // v_.size() - head_ (one load: idle() is asked per row)
  size_t head_ = 0;
  std::vector<Burst> v_;
};

struct ChannelStats {
  // (What every row counts first, the commands' counts last: a row counts
  // ACT, PRE, RD and WR, the first four, so its counts take two cache lines.)
  uint64_t row_hits = 0, row_misses = 0, row_conflicts = 0;
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t data_cycles = 0;    // clocks the data bus carried data
  uint64_t occupancy_sum = 0;  // bursts at the channel (queued, or waiting for room) summed
                               // over clocks (time-weighted)
  uint64_t last_clock = 0;     // last clock the occupancy was accounted to
  uint32_t occupancy_max = 0;
  std::vector<uint64_t>
      read_latency;  // latency_bucket() histogram: clocks from arrival to data end
  std::array<uint64_t, kCommands> commands{};
  uint64_t refresh_bank_cycles = 0;  // bank-clocks blocked by refresh (REFab blocks every bank)
};

// Where a controller records the work of the resources it models: its data
// bus (clocks carrying data) and its row activations.
struct ChannelResources {
  ResourceLedger* ledger = nullptr;
  ResourceLedger::Column bus = 0, act = 0;
};

class ChannelController;

// Work that takes the whole channel (a PIM GEMV, memory/pim): once the
// requests queued before it are served, the controller hands the channel
// over (plan() issues its commands through issue_all() and issue()), and
// holds new requests back until all of it is planned. Its commands go
// into the same timing state, so the refreshes and requests after it wait
// for them as for any command.
class ExclusiveWork {
 public:
  virtual ~ExclusiveWork() = default;
  [[nodiscard]] virtual bool pending() const = 0;
  // Plans commands from `now`; returns the next clock to be called at
  // (> now), or kNever once nothing is left.
  virtual uint64_t plan(ChannelController& channel, uint64_t now) = 0;
};

// Who hears of a channel's finished transfers (a DRAM memory).
class ChannelOwner {
 public:
  // `bursts` bursts of the owner's request `request` on `channel` have
  // moved, the last one's data ending at `clock`. (A virtual call, not a
  // std::function: every row ends here.)
  virtual void row_done(uint32_t channel, uint32_t request, uint32_t bursts, uint64_t clock) = 0;

 protected:
  ~ChannelOwner() = default;
};

class alignas(64) ChannelController {
 public:
  // `owner` hears of each entry's data transfer as it ends, as `channel`.
  ChannelController(const DramSpec& spec, ChannelOwner& owner, uint32_t channel);
  ChannelController(const ChannelController&) = delete;  // (lanes_ may point into it)
  ChannelController& operator=(const ChannelController&) = delete;

  // Queue capacity counts entries: a burst, or a whole row on the fast path
  // (queued, or planned and not yet through its last column at `now`).
  [[nodiscard]] bool can_accept(bool write, uint64_t now) {
    account(now);
    if (exclusive_ != nullptr && exclusive_->pending()) return false;
    return write ? writes_.size() + in_flight_[1] < spec_.write_queue
                 : reads_.size() + in_flight_[0] < spec_.read_queue;
  }
  // A channel that had nothing queued first replays the refreshes that fell
  // due while it slept (at their due clocks), so idle time costs no events.
  void enqueue(const Burst& burst, uint64_t now);
  // `bursts` bursts reached the channel at `now` and wait for room in its
  // queue (positive), or leave that wait for the queue (negative): the
  // occupancy counts them.
  void waiting(int64_t bursts, uint64_t now) {
    account(now);
    waiting_bursts_ = static_cast<uint64_t>(static_cast<int64_t>(waiting_bursts_) + bursts);
    stats_.occupancy_max = std::max(stats_.occupancy_max, static_cast<uint32_t>(held()));
  }
  // enqueue() then step(), as one: a whole row reaching a channel with
  // nothing queued that can be planned at once (the common case of a
  // stream) is planned without passing through the queue, with the same
  // commands, counts and next clock.
  uint64_t arrive(const Burst& burst, uint64_t now);
  // Plans the whole rows it can and issues one burst-level command at `now`;
  // returns the next clock to call it (now + 1 after a single command, when
  // the data bus next allows a column command, or when a row can be
  // planned), or kNever when idle with nothing queued.
  uint64_t step(uint64_t now);
  [[nodiscard]] bool idle() const { return reads_.empty() && writes_.empty(); }
  // Whether the last step issued a burst-level column command, which frees
  // its entry's queue slot (planning a row keeps the slot until its last
  // column: only such a step makes room where there was none).
  [[nodiscard]] bool issued_column() const { return column_issued_; }
  // When a queue held full by planned rows has room again: after the first
  // of them (kNever when none is planned).
  [[nodiscard]] uint64_t room_clock() const {
    return planned_head_ < planned_.size() ? planned_[planned_head_].last + 1 : kNever;
  }

  // Exclusive work (a PIM memory's GEMVs): where it waits, and that some
  // arrived at `now` (a sleeping channel first replays its refreshes).
  void set_exclusive(ExclusiveWork* work) { exclusive_ = work; }
  void exclusive_arrived(uint64_t now);
  // For exclusive work: the timing state, the next refresh's due clock,
  // and commands issued at `clock` (one to `bank`, or all-bank ones).
  [[nodiscard]] const ChannelTiming& timing() const { return timing_; }
  [[nodiscard]] uint64_t refresh_due() const { return refresh_due_; }
  void issue_command(Command c, uint32_t bank, uint64_t clock, uint32_t row = 0) {
    issue(c, bank, clock, row);
  }
  // `count` commands `c` were planned, the last issued at `clock`: the
  // timing state records the last (later constraints follow from it).
  void issue_all(Command c, uint64_t clock, uint64_t count = 1, uint32_t row = 0) {
    issue(c, 0, clock, row);
    stats_.commands[static_cast<size_t>(c)] += count - 1;
  }

  // How far ahead of a column a whole row is planned (its ACT is committed).
  static constexpr uint64_t kPlanWindow = 2048;

  [[nodiscard]] const ChannelStats& stats() const { return stats_; }
  void set_resources(const ChannelResources& resources) { resources_ = resources; }
  // The counts energy needs as of `clock`: stats() counts a planned row when
  // it is planned, up to kPlanWindow clocks early; this leaves out the ACTs
  // and the data of planned rows still after `clock` (the data at the row's
  // last column), and adds the refreshes due by `clock` that a sleeping
  // channel has not replayed yet.
  struct EnergyCounts {
    uint64_t acts = 0, read_bytes = 0, write_bytes = 0, refab = 0, refpb = 0;
  };
  [[nodiscard]] EnergyCounts energy_counts(uint64_t clock) const;

 private:
  // Plans the whole rows of `q` that can start within the window; lowers
  // `wake` to when the next one can be planned.
  void plan_rows(BurstQueue& q, uint64_t now, uint64_t& wake);
  // Where row `b` would start (its first column) and in which lane, given
  // its bank's state and the lanes'; `act` is when its ACT can issue (with
  // a PRE first when another row is open), kNever when none is needed.
  struct Placement {
    uint64_t start = kNever;
    size_t lane = 0;
    uint64_t act = kNever;
    uint64_t pre = kNever;
  };
  [[nodiscard]] Placement place(const Burst& b, uint64_t now) const;
  // The first clock a new row may start in some lane.
  [[nodiscard]] uint64_t lane_free() const { return lane_free_; }
  // How many of row `b`'s columns, placed at `p`, go before the next
  // refresh: all, those up to an all-bank refresh, or 0 when the refresh
  // must come first.
  [[nodiscard]] uint32_t before_refresh(const Burst& b, const Placement& p) const;
  // When a queue held full by planned rows (with `reads` and `writes`
  // entries queued) has room again; kNever when it is not full.
  [[nodiscard]] uint64_t room_wake(size_t reads, size_t writes, uint64_t now) const;
  // Plans `bursts` columns of row `b` at `p`: its PRE and ACT if needed,
  // the columns in the lane, the counts and the owner's done().
  // (kQueued false: nothing is queued, so no entry's wanted row changes.)
  template <bool kQueued = true>
  void commit_row(Burst& b, const Placement& p, uint32_t bursts, uint64_t now);
  // The first clock of a column of the other direction after a column of
  // direction `write` at `column` (fast path's dir_free_).
  void turnaround(bool write, uint64_t column);
  // Whether the write drain starts or stops (between the watermarks, or for
  // a write older than write_age).
  [[nodiscard]] bool drain_flips(uint64_t now) const;
  void served(Burst& b, uint64_t clock, uint32_t bursts);
  // Plans every refresh due by `now`, at its due clock (inline: called per
  // request and per step, and most often nothing is due).
  void catch_up(uint64_t now) {
    if (refresh_due_ <= now) refresh_until(now);
  }
  void refresh_until(uint64_t now);
  // Every bank closed and able to take `ref` at `clock`.
  [[nodiscard]] bool settled_by(Command ref, uint64_t clock) const;
  [[nodiscard]] uint32_t pick_refresh_bank();
  // pick_refresh_bank() when every unrefreshed bank has entries queued (or
  // more than 64 banks): the one the queue needs last.
  [[nodiscard]] uint32_t pick_needed_last();
  // Of `banks` (bits, not 0; up to 64 banks), the one whose last column is
  // the latest, the lowest among equals.
  [[nodiscard]] uint32_t most_recent_of(uint64_t banks) const;
  void refreshed();
  bool schedule(BurstQueue& queue, uint64_t now, uint64_t& wake);
  void issue(Command c, uint32_t bank, uint64_t now, uint32_t row = 0);
  // issue(), inlined where this file's per-row paths call it.
  template <bool kQueued = true>
  void record(Command c, uint32_t bank, uint64_t now, uint32_t row = 0);
  // Accounts the time-weighted queue occupancy up to `now`, and counts the
  // planned rows whose last column is at or before `now` as done (inline:
  // per row, from can_accept() too).
  void account(uint64_t now) {
    if (now <= stats_.last_clock) return;
    // (In locals: a store to a counter could alias a planned row's clock,
    // and would reload it.)
    uint64_t last = stats_.last_clock, sum = stats_.occupancy_sum, bursts = held();
    // Planned rows occupy the queue until their last column (planned_ is in
    // the order of those clocks).
    if (planned_head_ < planned_.size()) {
      const Planned* p = planned_.data() + planned_head_;
      const Planned* const end = planned_.data() + planned_.size();
      for (; p != end && p->last <= now; ++p) {
        if (p->last > last) {
          sum += (p->last - last) * bursts;
          last = p->last;
        }
        bursts -= p->bursts;
        (p->write ? write_bursts_ : read_bursts_) -= p->bursts;
        --in_flight_[p->write];
      }
      planned_head_ = static_cast<size_t>(p - planned_.data());
      compact_front(planned_, planned_head_);
    }
    stats_.occupancy_sum = sum + (now - last) * bursts;
    stats_.last_clock = now;
  }
  // Whether an entry of `q` (the queue being served) still targets `bank`'s
  // open row. Only that queue counts: a row the other queue wants must not
  // block this one's precharge while that queue is not being served.
  [[nodiscard]] bool row_wanted(const BurstQueue& q, uint32_t bank) const {
    return bank_[bank].wanted[&q == &writes_] > 0;
  }
  void removed(const Burst& b);
  // Bursts at the channel: queued or planned and not yet issued, and those
  // waiting for room in the queue.
  [[nodiscard]] uint64_t held() const { return read_bursts_ + write_bursts_ + waiting_bursts_; }
  template <bool kQueued = true>
  void auto_precharge(uint32_t bank, uint64_t now);

  // (The members every row touches come first, together: 640 channels of
  // an 8-chip system do not fit in a core's L2 cache, and each line a row
  // touches is a miss there.)
  const DramSpec& spec_;
  ChannelOwner& owner_;
  ExclusiveWork* exclusive_ = nullptr;
  uint32_t channel_;
  uint32_t mru_bank_ = 0;                        // most_recent_of(every bank), kClosed: unknown
  uint64_t read_bursts_ = 0, write_bursts_ = 0;  // bursts queued or planned, not yet issued
  uint64_t waiting_bursts_ = 0;                  // bursts waiting for room (waiting())
  uint64_t latest_arrival_ = 0;                  // latest arrival clock of anything queued so far
  uint64_t refresh_due_;
  // Fast path: the data bus's lanes and what constrains the next planned row.
  struct Lane {
    uint64_t next = 0;  // first clock a new row may start in it
  };
  uint64_t lane_free_ = 0;  // the lanes' earliest next (kept by commit_row())
  Lane* lanes_ = nullptr;   // inline_lanes_ or heap_lanes_
  uint64_t mru_used_ = 0;   // last_used_[mru_bank_] (known: each row's column compares with it)
  uint64_t slot_ = 1, period_ = 1;        // clocks per bus slot; per lane round (L slots)
  uint64_t bus_free_ = 0;                 // first clock after burst-level columns (tCCD_S)
  std::array<uint32_t, 2> in_flight_{};   // planned_ per direction
  std::array<uint64_t, 2> dir_free_{};    // per direction: first column clock (turnaround)
  std::array<uint64_t, 2> turnaround_{};  // per direction: from a column to the other's dir_free_
  // The lanes: in the controller when they fit (every preset's do: one
  // cache line fewer per row), else on the heap.
  static constexpr size_t kInlineLanes = 4;
  std::array<Lane, kInlineLanes> inline_lanes_{};
  struct Planned {
    uint64_t last;     // its last column's clock
    uint32_t act_gap;  // clocks from its ACT to `last` (kNoAct: no ACT)
    uint16_t bursts;
    bool write;
  };
  static constexpr uint32_t kNoAct = UINT32_MAX;
  std::vector<Planned> planned_;  // from planned_head_: rows not yet through their last column
  size_t planned_head_ = 0;
  std::vector<uint64_t> last_used_;  // per bank: its last column's clock (dense: the
                                     // refresh pick compares them all)
  bool draining_ = false;
  bool period_pow2_ = true;
  // The round of refreshes under way had each at its due clock, idle, with
  // nothing else issued; the last complete round did. After such a round
  // every later idle round repeats it exactly (catch_up()).
  bool round_clean_ = false, last_round_clean_ = false;
  uint32_t nlanes_ = 0;
  ChannelStats stats_;
  BurstQueue reads_, writes_;
  ChannelResources resources_;
  ChannelTiming timing_;
  // Refresh, every few rows.
  uint64_t refresh_interval_;  // clocks between refreshes (kNever: none)
  uint32_t refresh_bank_ = 0;
  uint32_t refreshed_count_ = 0;
  // Up to 64 banks as bits (more: 0, unused): banks with queued entries, and
  // banks not yet refreshed in this round.
  [[nodiscard]] uint64_t bank_bit(uint32_t bank) const {
    return bank < 64 ? uint64_t{1} << bank : 0;
  }
  [[nodiscard]] uint64_t all_banks_mask() const {
    return timing_.banks() >= 64 ? ~uint64_t{0} : (uint64_t{1} << timing_.banks()) - 1;
  }
  uint64_t queued_mask_ = 0, unrefreshed_mask_ = 0;
  // What the controller keeps per bank, together (one cache line). Queues
  // are indexed reads 0, writes 1.
  struct BankState {
    std::array<uint32_t, 2> wanted{};   // per queue: entries for its open row
    std::array<uint32_t, 2> entries{};  // per queue: entries queued for it
    uint64_t seen = 0;                  // scan in which it was last checked
    bool refreshed = false;             // refreshed in the current round (over 64 banks)
  };
  std::vector<BankState> bank_;
  // The queued path's.
  std::array<uint64_t, 2> queued_{};   // per queue: bursts waiting to be planned or issued
  std::array<uint64_t, 2> singles_{};  // per queue: queued single bursts
  std::array<uint64_t, 2> hits_{};  // per queue: entries for open rows (BankState::wanted summed)
  uint64_t scan_ = 0;
  bool column_issued_ = false;  // the last step issued RD or WR (schedule())
  std::vector<Lane> heap_lanes_;
  mutable std::vector<size_t> needed_;  // scratch for pick_refresh_bank()
};

}  // namespace npusim::memory::dram

// The JEDEC timing state of one DRAM channel: for every command, the earliest
// clock at which it may issue to a bank, given every command issued before.
// The controller asks earliest() and then issue(); tests check each
// constraint at its boundary (refused at t-1, allowed at t).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "memory/dram/spec.h"

namespace npusim::memory::dram {

enum class Command : uint8_t { ACT, PRE, RD, WR, REFab, REFpb, kCount };
inline constexpr size_t kCommands = static_cast<size_t>(Command::kCount);
[[nodiscard]] const char* command_name(Command c);

inline constexpr uint32_t kClosed = UINT32_MAX;

class ChannelTiming {
 public:
  explicit ChannelTiming(const DramSpec& spec);

  // Earliest clock `command` may issue to `bank` (ignores whether the bank's
  // row state allows it: RD/WR need the row open, ACT/REF a closed bank).
  [[nodiscard]] uint64_t earliest(Command command, uint32_t bank) const;
  // The channel-wide part of earliest(): no bank can take `command` before.
  [[nodiscard]] uint64_t channel_floor(Command command) const {
    return command == Command::RD ? rd_ : command == Command::WR ? wr_ : 0;
  }
  // The bank's own part of earliest() for RD or WR (tRCD after its ACT,
  // and what its earlier columns require), without the channel's and the
  // bank group's.
  [[nodiscard]] uint64_t bank_floor(Command command, uint32_t bank) const {
    return command == Command::RD ? banks_[bank].rd : banks_[bank].wr;
  }
  // The bank group's part of earliest() for RD or WR (tCCD_L after the
  // group's last column of that kind; tWTR_L before a read).
  [[nodiscard]] uint64_t group_floor(Command command, uint32_t bank) const {
    const Group& g = groups_[bank / s_.banks_per_group];
    return command == Command::RD ? g.rd : g.wr;
  }
  [[nodiscard]] bool ready(Command command, uint32_t bank, uint64_t clock) const {
    return earliest(command, bank) <= clock;
  }
  // Records `command` at `clock` (>= earliest). ACT opens `row`.
  void issue(Command command, uint32_t bank, uint64_t clock, uint32_t row = 0);

  [[nodiscard]] uint32_t open_row(uint32_t bank) const { return banks_[bank].open_row; }
  [[nodiscard]] uint32_t banks() const { return static_cast<uint32_t>(banks_.size()); }

 private:
  struct Bank {
    uint32_t open_row = kClosed;
    uint64_t act = 0, pre = 0, rd = 0, wr = 0;
  };
  struct Group {
    uint64_t act = 0, rd = 0, wr = 0;
  };
  const DramSpec& s_;
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  uint64_t act_ = 0, rd_ = 0, wr_ = 0, ref_ = 0;  // channel-wide
  std::array<uint64_t, 4> faw_{};                 // the last four ACTs
  size_t faw_next_ = 0;
  uint32_t acts_ = 0;
};

}  // namespace npusim::memory::dram

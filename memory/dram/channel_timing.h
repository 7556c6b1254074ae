// The JEDEC timing state of one DRAM channel: for every command, the earliest
// clock at which it may issue to a bank, given every command issued before.
// The controller asks earliest() and then issue(); tests check each
// constraint at its boundary (refused at t-1, allowed at t).
//
// A PIM DRAM (memory/pim) adds all-bank commands, with AttAcc's HBM3-PIM
// constraints: ACTAB (a row opened in every bank: like an ACT to each, so
// an ACTAB waits for every bank's tRC/tRP and tRRD after the last ACT, and
// every bank then waits tRC for its next ACT; ACTAB to ACTAB is nRC), MACAB
// (every unit reads a column of its bank: nRCD_RD after ACTAB, nCCDAB
// after the last MACAB, none on the data bus), PREA (all banks: nRAS after
// ACTAB, nRTPL after the last MACAB, and each bank's own tRTP/tWR; nRP to
// the next ACT or ACTAB), WRGB (input into the GEMV buffers over the data
// bus, like a WR: tCCD_S and the turnaround, and nWRGB between two) and
// RDRES (results out over the data bus like an RD, nRDRES between two).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "memory/dram/spec.h"

namespace npusim::memory::dram {

enum class Command : uint8_t {
  ACT,
  PRE,
  RD,
  WR,
  REFab,
  REFpb,
  // All-bank PIM commands (`bank` is ignored): memory/pim.
  ACTAB,
  MACAB,
  PREA,
  WRGB,
  RDRES,
  kCount
};
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
  // PIM: MACAB's floor (nRCD_RD after ACTAB, nCCDAB after MACAB), PRE's
  // after a MACAB (nRTPL: every bank), WRGB's and RDRES's own spacing.
  uint64_t mac_ = 0, pre_all_ = 0, wrgb_ = 0, rdres_ = 0;
  std::array<uint64_t, 4> faw_{};  // the last four ACTs
  size_t faw_next_ = 0;
  uint32_t acts_ = 0;
};

}  // namespace npusim::memory::dram

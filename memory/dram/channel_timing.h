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

#include <algorithm>
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
  // (Inline for the commands a controller issues per row and the per-bank
  // refresh; the all-bank ones in earliest_other().)
  [[nodiscard]] uint64_t earliest(Command command, uint32_t bank) const {
    const Bank& b = banks_[bank];
    switch (command) {
      case Command::ACT: {
        const Group& g = groups_[b.group];
        uint64_t t = std::max({b.act, g.act, act_});
        if (acts_ >= 4) t = std::max(t, faw_[faw_next_] + s_.FAW);  // the 4th-last ACT
        return t;
      }
      case Command::PRE:
        return std::max(b.pre, pre_all_);
      case Command::RD:
        return std::max({b.rd, groups_[banks_[bank].group].rd, rd_});
      case Command::WR:
        return std::max({b.wr, groups_[banks_[bank].group].wr, wr_});
      case Command::REFpb:
        return b.act;
      default:
        return earliest_other(command, bank);
    }
  }
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
    const Group& g = groups_[banks_[bank].group];
    return command == Command::RD ? g.rd : g.wr;
  }
  [[nodiscard]] bool ready(Command command, uint32_t bank, uint64_t clock) const {
    return earliest(command, bank) <= clock;
  }
  // Records `command` at `clock` (>= earliest). ACT opens `row`.
  void issue(Command command, uint32_t bank, uint64_t clock, uint32_t row = 0) {
    Bank& b = banks_[bank];
    switch (command) {
      case Command::ACT: {
        Group& g = groups_[b.group];
        b.open_row = row;
        b.rd = clock + s_.RCD_RD;
        b.wr = clock + s_.RCD_WR;
        b.pre = std::max(b.pre, clock + s_.RAS);
        b.act = clock + s_.RC;
        g.act = clock + s_.RRD_L;
        act_ = clock + s_.RRD_S;
        faw_[faw_next_] = clock;
        faw_next_ = (faw_next_ + 1) % faw_.size();
        ++acts_;
        ref_ = std::max(ref_, clock + s_.RC);
        return;
      }
      case Command::PRE:
        b.open_row = kClosed;
        b.act = std::max(b.act, clock + s_.RP);
        ref_ = std::max(ref_, clock + s_.RP);
        return;
      case Command::RD: {
        Group& g = groups_[b.group];
        b.pre = std::max(b.pre, clock + s_.RTP);
        g.rd = std::max(g.rd, clock + s_.CCD_L);
        rd_ = std::max(rd_, clock + s_.CCD_S);
        // Read to write: the read data must leave the bus, plus the turnaround.
        wr_ = std::max(wr_, clock + read_to_write_);
        return;
      }
      case Command::WR: {
        Group& g = groups_[b.group];
        const uint64_t data_end = clock + s_.CWL + s_.burst_cycles;
        b.pre = std::max(b.pre, data_end + s_.WR);
        g.wr = std::max(g.wr, clock + s_.CCD_L);
        wr_ = std::max(wr_, clock + s_.CCD_S);
        g.rd = std::max(g.rd, data_end + s_.WTR_L);
        rd_ = std::max(rd_, data_end + s_.WTR_S);
        return;
      }
      case Command::REFpb:
        b.act = std::max(b.act, clock + s_.RFCpb);
        return;
      default:
        issue_other(command, bank, clock, row);
    }
  }

  [[nodiscard]] uint32_t open_row(uint32_t bank) const { return banks_[bank].open_row; }
  [[nodiscard]] uint32_t banks() const { return nbanks_; }

 private:
  [[nodiscard]] uint64_t earliest_other(Command command, uint32_t bank) const;
  void issue_other(Command command, uint32_t bank, uint64_t clock, uint32_t row);
  // (Each in a cache line of its own, or half of one: a row's commands touch
  // one bank and its group, and 40 or 24 bytes would often straddle two
  // lines, a miss each when hundreds of channels' state outgrow the cache.)
  struct alignas(64) Bank {
    uint32_t open_row = kClosed;
    uint32_t group = 0;  // its bank group (an index, not a division per command)
    uint64_t act = 0, pre = 0, rd = 0, wr = 0;
  };
  struct alignas(32) Group {
    uint64_t act = 0, rd = 0, wr = 0;
  };
  const DramSpec& s_;
  uint64_t read_to_write_;  // DramSpec::read_to_write(), per read
  uint32_t nbanks_;         // banks_.size()
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  uint64_t act_ = 0, rd_ = 0, wr_ = 0, ref_ = 0;  // channel-wide
  std::array<uint64_t, 4> faw_{};                 // the last four ACTs
  size_t faw_next_ = 0;
  uint32_t acts_ = 0;
  // PIM: PRE's floor after a MACAB (nRTPL: every bank); MACAB's floor (nRCD_RD
  // after ACTAB, nCCDAB after MACAB), WRGB's and RDRES's own spacing, which
  // a row never reads (last: a controller's rows touch the lines before).
  uint64_t pre_all_ = 0, mac_ = 0, wrgb_ = 0, rdres_ = 0;
};

}  // namespace npusim::memory::dram

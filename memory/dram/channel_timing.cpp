#include "memory/dram/channel_timing.h"

#include <algorithm>
#include <stdexcept>

namespace npusim::memory::dram {

const char* command_name(Command c) {
  static const char* names[] = {"ACT",   "PRE",   "RD",   "WR",   "REFab", "REFpb",
                                "ACTAB", "MACAB", "PREA", "WRGB", "RDRES"};
  return names[static_cast<size_t>(c)];
}

ChannelTiming::ChannelTiming(const DramSpec& spec)
    : s_(spec),
      read_to_write_(spec.read_to_write()),
      nbanks_(spec.banks()),
      banks_(spec.banks()),
      groups_(spec.bank_groups) {
  for (uint32_t b = 0; b < banks_.size(); ++b) banks_[b].group = b / spec.banks_per_group;
}

// (The commands here take every bank: the per-bank ones are inline.)
uint64_t ChannelTiming::earliest_other(Command c, uint32_t /*bank*/) const {
  switch (c) {
    case Command::REFab:
      return ref_;
    case Command::ACTAB: {
      uint64_t t = act_;
      for (const Bank& each : banks_) t = std::max(t, each.act);
      for (const Group& each : groups_) t = std::max(t, each.act);
      return t;
    }
    case Command::MACAB:
      return mac_;
    case Command::PREA: {
      uint64_t t = pre_all_;
      for (const Bank& each : banks_) t = std::max(t, each.pre);
      return t;
    }
    case Command::WRGB:
      return std::max(wr_, wrgb_);
    case Command::RDRES:
      return std::max(rd_, rdres_);
    default:
      throw std::logic_error("no such DRAM command");
  }
}

void ChannelTiming::issue_other(Command c, uint32_t /*bank*/, uint64_t t, uint32_t row) {
  switch (c) {
    case Command::REFab:
      for (Bank& each : banks_) each.act = std::max(each.act, t + s_.RFC);
      ref_ = t + s_.RFC;
      break;
    case Command::ACTAB:
      for (Bank& each : banks_) {
        each.open_row = row;
        each.rd = t + s_.RCD_RD;
        each.wr = t + s_.RCD_WR;
        each.pre = std::max(each.pre, t + s_.RAS);
        each.act = t + s_.RC;
      }
      for (Group& each : groups_) each.act = t + s_.RRD_L;
      act_ = t + s_.RRD_S;
      mac_ = t + s_.RCD_RD;
      ref_ = std::max(ref_, t + s_.RC);
      break;
    case Command::MACAB:
      mac_ = t + s_.CCDAB;
      pre_all_ = std::max(pre_all_, t + s_.RTPL);
      break;
    case Command::PREA:
      for (Bank& each : banks_) {
        each.open_row = kClosed;
        each.act = std::max(each.act, t + s_.RP);
      }
      ref_ = std::max(ref_, t + s_.RP);
      break;
    case Command::WRGB: {
      const uint64_t data_end = t + s_.CWL + s_.burst_cycles;
      wr_ = std::max(wr_, t + s_.CCD_S);
      wrgb_ = t + s_.WRGB;
      rd_ = std::max(rd_, data_end + s_.WTR_S);
      rdres_ = std::max(rdres_, data_end + s_.WTR_S);
      break;
    }
    case Command::RDRES: {
      rd_ = std::max(rd_, t + s_.CCD_S);
      rdres_ = t + s_.RDRES;
      const uint64_t to_write = t + s_.CL + s_.burst_cycles + s_.RTW - std::min(s_.CWL, s_.CL);
      wr_ = std::max(wr_, to_write);
      wrgb_ = std::max(wrgb_, to_write);
      break;
    }
    default:
      throw std::logic_error("no such DRAM command");
  }
}

}  // namespace npusim::memory::dram

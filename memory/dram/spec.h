// A DRAM part resolved from its DramConfig: organisation, timings in memory
// clock cycles, and the figures derived from them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "memory/memory.pb.h"

namespace npusim::memory::dram {

struct DramSpec {
  // Organisation.
  uint32_t stacks = 1;
  uint32_t channels = 0;  // per stack
  uint32_t bank_groups = 0;
  uint32_t banks_per_group = 0;
  uint32_t rows = 0;
  uint32_t columns = 0;  // bursts per row
  uint32_t width_bits = 0;
  uint32_t burst_length = 0;

  // Timings, in clock cycles.
  double tck_ps = 0;
  // tck_ps when a whole number of ps, else 0, and the clocks before 2^53 ps
  // (9000 s) with it: ps_of() by integers (resolve_spec() sets them).
  uint64_t tck_whole_ps = 0, whole_ps_clocks = 0;
  uint32_t burst_cycles = 0;
  uint32_t CL = 0, CWL = 0, RCD_RD = 0, RCD_WR = 0, RP = 0, RAS = 0, RC = 0, WR = 0, RTP = 0;
  uint32_t CCD_S = 0, CCD_L = 0, RRD_S = 0, RRD_L = 0, FAW = 0, WTR_S = 0, WTR_L = 0, RTW = 0;
  uint32_t RFC = 0, RFCpb = 0, REFI = 0;
  // All-bank PIM commands (memory/pim; 0 for a plain DRAM, which issues none):
  // MACAB to MACAB, last MACAB to PREA, WRGB to WRGB, RDRES to RDRES.
  uint32_t CCDAB = 0, RTPL = 0, WRGB = 0, RDRES = 0;

  DramConfig::PagePolicy page_policy = DramConfig::OPEN_PAGE;
  DramConfig::Refresh refresh = DramConfig::ALL_BANK;
  uint32_t read_queue = 64, write_queue = 64, write_high = 48, write_low = 16;
  uint64_t write_age = 0;  // clocks; 0: writes wait for the watermark
  bool row_granular = true;
  DramEnergy energy;  // per event (memory.proto); absent fields cost nothing
  std::string mapping;
  bool channel_hash = false;  // DramConfig.channel_hash
  std::string name;

  [[nodiscard]] uint32_t banks() const { return bank_groups * banks_per_group; }
  [[nodiscard]] uint32_t total_channels() const { return stacks * channels; }
  [[nodiscard]] uint64_t burst_bytes() const { return uint64_t{width_bits} / 8 * burst_length; }
  [[nodiscard]] uint64_t row_bytes() const { return burst_bytes() * columns; }
  [[nodiscard]] uint64_t capacity_bytes() const {
    return uint64_t{total_channels()} * banks() * rows * row_bytes();
  }
  // When clock `clock` starts, ps (rounded up to a whole ps). (The ceiling
  // of a value in (-1, 2^63) by truncation, as std::ceil rounds it: a DRAM
  // channel converts every row it serves, and GCC's inline std::ceil
  // without SSE4.1 takes three times the instructions. A whole tck_ps
  // gives the same value by integers, the double product being exact.)
  [[nodiscard]] uint64_t ps_of(uint64_t clock) const {
    if (clock < whole_ps_clocks) return clock * tck_whole_ps;
    const double ps = static_cast<double>(clock) * tck_ps - 1e-6;
    const auto whole = static_cast<int64_t>(ps);  // toward zero: 0 for ps in (-1, 0]
    return static_cast<uint64_t>(whole) + (static_cast<double>(whole) < ps ? 1 : 0);
  }
  // Clocks from a read's column command to the first write column's (the
  // read data leaves the bus, then it turns around).
  [[nodiscard]] uint64_t read_to_write() const {
    return uint64_t{CL} + burst_cycles + RTW - std::min(CWL, CL);
  }
  // Peak data bandwidth of all channels, GB/s.
  [[nodiscard]] double peak_gbps() const {
    return static_cast<double>(total_channels()) * static_cast<double>(burst_bytes()) /
           (burst_cycles * tck_ps * 1e-3);
  }
};

// Resolves `config` (a preset plus overrides), validates every field and
// returns the spec. UserError naming `where` and `path`.field on bad input.
[[nodiscard]] DramSpec resolve_spec(const DramConfig& config, const std::string& where,
                                    const std::string& path);

// The built-in presets (memory/dram/presets/*.textproto), by name.
[[nodiscard]] std::vector<std::string> preset_names();
// The preset merged with the fields `config` sets; UserError if the preset is
// unknown.
[[nodiscard]] DramConfig resolve_config(const DramConfig& config, const std::string& where,
                                        const std::string& path);

}  // namespace npusim::memory::dram

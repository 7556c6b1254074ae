#include "memory/pim/pim_spec.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/integer.h"
#include "common/ranges.h"
#include "memory/preset_table.h"

namespace npusim::memory::pim {

const std::map<std::string, std::string>& preset_texts();  // pim_presets.cpp (generated)

std::vector<std::string> preset_names() {
  return memory::preset_names(preset_texts());
}

PimConfig resolve_config(const PimConfig& config, const std::string& where,
                         const std::string& path) {
  return resolve_preset(preset_texts(), config, "PIM", where, path);
}

uint32_t PimSpec::macab_spacing(uint32_t element_bytes) const {
  const uint64_t elements = dram.burst_bytes() / element_bytes;
  const uint64_t unit_cycles = ceil_div(elements, lanes);
  const double ps = static_cast<double>(unit_cycles) * 1e6 / clock_mhz;
  const auto clocks = static_cast<uint32_t>(std::ceil(ps / dram.tck_ps - 1e-6));
  return std::max(dram.CCDAB, clocks);
}

PimCost PimSpec::cost() const {
  PimCost c;
  c.geometry = geometry();
  c.tck_ns = dram.tck_ps * 1e-3;
  c.banks_per_unit = banks_per_unit;
  c.buffer_bytes = buffer_bytes;
  c.mode_switch_acts = mode_switch_acts;
  c.macab = macab_spacing(2);
  c.wrgb = std::max(dram.WRGB, dram.CCD_S);
  c.rdres = std::max(dram.RDRES, dram.CCD_S);
  c.RCD = dram.RCD_RD;
  c.RP = dram.RP;
  c.RAS = dram.RAS;
  c.RC = dram.RC;
  c.RTPL = dram.RTPL;
  c.CL = dram.CL;
  c.CWL = dram.CWL;
  c.BL = dram.burst_cycles;
  if (dram.refresh == DramConfig::ALL_BANK && dram.REFI > dram.RFC) {
    c.refresh_stretch = static_cast<double>(dram.REFI) / (dram.REFI - dram.RFC);
  }
  return c;
}

double PimSpec::macs_per_second(uint32_t element_bytes) const {
  const double per_macab =
      static_cast<double>(total_units()) * static_cast<double>(dram.burst_bytes() / element_bytes);
  return per_macab / (macab_spacing(element_bytes) * dram.tck_ps * 1e-12);
}

namespace {

// The mapping's most significant field is the whole row: a PIM region (rows
// of every bank) is then a contiguous range of addresses.
bool row_on_top(const std::string& mapping) {
  std::istringstream in(mapping);
  std::string first, word;
  in >> first;
  if (first != "ro") return false;
  while (in >> word) {
    if (word.rfind("ro", 0) == 0) return false;
  }
  return true;
}

}  // namespace

PimSpec resolve_spec(const PimConfig& raw, const std::string& where, const std::string& path) {
  const PimConfig c = resolve_config(raw, where, path);
  check_ranges(c, where, path);
  PimSpec s;
  s.name = c.preset().empty() ? "custom" : c.preset();
  s.dram = dram::resolve_spec(c.dram(), where, path + ".dram");
  const uint32_t banks = s.dram.banks();
  const auto& u = c.units();
  const auto field = [&](const std::string& f) { return path + "." + f; };
  require(u.has_banks_per_unit(), where, field("units.banks_per_unit"),
          "is required (or name a preset)");
  s.banks_per_unit = u.banks_per_unit();
  require(s.banks_per_unit >= 1 && banks % s.banks_per_unit == 0, where,
          field("units.banks_per_unit"),
          fmt::format("{} does not divide the {} banks per channel", s.banks_per_unit, banks));
  require(u.has_lanes(), where, field("units.lanes"), "is required (or name a preset)");
  s.lanes = u.lanes();
  require(s.lanes >= 1, where, field("units.lanes"), "must be >= 1");
  require(s.lanes <= s.dram.burst_bytes(), where, field("units.lanes"),
          fmt::format("{} lanes exceed the {} elements a column holds even at 1 byte each", s.lanes,
                      s.dram.burst_bytes()));
  require(u.has_clock_mhz(), where, field("units.clock_mhz"), "is required (or name a preset)");
  s.clock_mhz = u.clock_mhz();
  const double command_mhz = 1e6 / s.dram.tck_ps;
  require(std::isfinite(s.clock_mhz) && s.clock_mhz > 0 && s.clock_mhz <= command_mhz + 1e-6, where,
          field("units.clock_mhz"),
          fmt::format("{} MHz is faster than the DRAM's command clock ({:.0f} MHz): logic in a "
                      "DRAM process runs no faster",
                      s.clock_mhz, command_mhz));
  const uint64_t row = s.dram.row_bytes();
  s.buffer_bytes = u.has_buffer_bytes() ? u.buffer_bytes() : static_cast<uint32_t>(row);
  require(s.buffer_bytes >= row && s.buffer_bytes % row == 0, where, field("units.buffer_bytes"),
          fmt::format("{} is not a multiple of the {}-byte row (a row of weights needs its row "
                      "of input in the buffer)",
                      s.buffer_bytes, row));
  s.mac_pj = u.mac_pj();

  const auto& t = c.timing();
  require(t.has_nccdab(), where, field("timing.nCCDAB"), "is required (or name a preset)");
  const uint32_t capped = t.nccdab();
  const uint32_t free = t.has_nccdab_unconstrained() ? t.nccdab_unconstrained() : capped;
  require(free <= capped, where, field("timing.nCCDAB_unconstrained"),
          fmt::format("{} exceeds the power-capped nCCDAB {}", free, capped));
  s.power_capped = t.has_power_capped() ? t.power_capped() : true;
  s.dram.CCDAB = s.power_capped ? capped : free;
  s.dram.RTPL = t.has_nrtpl() ? t.nrtpl() : s.dram.RTP;
  s.dram.WRGB = t.has_nwrgb() ? t.nwrgb() : s.dram.CCD_S;
  s.dram.RDRES = t.has_nrdres() ? t.nrdres() : s.dram.CCD_S;
  s.mode_switch_acts = t.mode_switch_acts();

  const auto& e = c.energy();
  s.actab_acts = e.has_actab_acts() ? e.actab_acts() : banks;
  s.macab_reads = e.has_macab_reads() ? e.macab_reads() : banks;

  require(row_on_top(s.dram.mapping), where, field("dram.address_mapping"),
          fmt::format("'{}': a PIM memory needs the whole row ('ro') as the most significant "
                      "field, so that a region of rows is one range of addresses",
                      s.dram.mapping));
  // A row of MACs fits between two refreshes.
  const uint64_t row_clocks = s.dram.RCD_RD +
                              uint64_t{s.dram.columns} * s.banks_per_unit * s.macab_spacing(2) +
                              s.dram.RTPL + s.dram.RP;
  require(
      s.dram.refresh == DramConfig::NO_REFRESH || row_clocks < s.dram.REFI - s.dram.RFC, where,
      field("timing.nCCDAB"),
      fmt::format("a row's MACs take {} clocks, more than fit between two refreshes", row_clocks));
  return s;
}

PimRegion::PimRegion(const PimSpec& spec, uint64_t base_address, uint32_t out_rows,
                     uint32_t in_cols, uint32_t element_bytes, uint32_t blocks)
    : dram_(spec.dram),
      mapping_(dram_, "pim", "address_mapping"),
      layout_(spec.geometry(), static_cast<uint32_t>(base_address / spec.geometry().stripe_bytes()),
              out_rows, in_cols, element_bytes, blocks) {}

uint64_t PimRegion::address(uint32_t m, uint32_t k, uint32_t block) const {
  const PimPlace p = layout_.place(m, k, block);
  dram::DramAddress a;
  a.channel = p.channel;
  a.bank = p.bank;
  a.bank_group = p.bank / dram_.banks_per_group;
  a.row = p.row;
  a.column = p.column;
  return mapping_.encode(a) + p.byte;
}

}  // namespace npusim::memory::pim

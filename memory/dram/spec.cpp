#include "memory/dram/spec.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "common/error.h"
#include "common/ranges.h"
#include "memory/preset_table.h"

namespace npusim::memory::dram {

const std::map<std::string, std::string>& preset_texts();  // presets.cpp (generated)

std::vector<std::string> preset_names() {
  return memory::preset_names(preset_texts());
}

DramConfig resolve_config(const DramConfig& config, const std::string& where,
                          const std::string& path) {
  return resolve_preset(preset_texts(), config, "DRAM", where, path);
}

namespace {

bool power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

class Reader {
 public:
  Reader(const std::string& where, const std::string& path) : where_(where), path_(path) {}

  uint32_t count(bool has, uint32_t value, const char* field, bool pow2) const {
    const std::string f = path_ + ".organization." + field;
    require(has, where_, f, "is required (or name a preset)");
    require(value >= 1, where_, f, "must be >= 1");
    if (pow2)
      require(power_of_two(value), where_, f, fmt::format("{} is not a power of two", value));
    return value;
  }
  uint32_t cycles(bool has, uint32_t value, const char* field) const {
    require(has, where_, path_ + ".timing." + field, "is required (or name a preset)");
    return value;
  }
  uint32_t ns(bool has, double value, const char* field, double tck_ps) const {
    const std::string f = path_ + ".timing." + field;
    require(has, where_, f, "is required (or name a preset)");
    require(std::isfinite(value) && value > 0, where_, f, "must be > 0 (ns)");
    return static_cast<uint32_t>(std::ceil(value * 1e3 / tck_ps - 1e-9));
  }
  void check(bool ok, const std::string& field, const std::string& constraint) const {
    require(ok, where_, path_ + "." + field, constraint);
  }

 private:
  const std::string& where_;
  const std::string& path_;
};

}  // namespace

DramSpec resolve_spec(const DramConfig& raw, const std::string& where, const std::string& path) {
  const DramConfig c = resolve_config(raw, where, path);
  check_ranges(c, where, path);  // a preset's values with the overrides
  const Reader r(where, path);
  DramSpec s;
  s.name = c.preset().empty() ? "custom" : c.preset();
  const auto& o = c.organization();
  s.stacks = c.has_stacks() ? c.stacks() : 1;
  r.check(s.stacks >= 1, "stacks", "must be >= 1");
  s.channels = r.count(o.has_channels(), o.channels(), "channels", true);
  s.bank_groups = r.count(o.has_bank_groups(), o.bank_groups(), "bank_groups", true);
  s.banks_per_group =
      r.count(o.has_banks_per_group(), o.banks_per_group(), "banks_per_group", true);
  s.rows = r.count(o.has_rows(), o.rows(), "rows", true);
  s.columns = r.count(o.has_columns(), o.columns(), "columns", true);
  s.width_bits = r.count(o.has_width_bits(), o.width_bits(), "width_bits", false);
  r.check(s.width_bits % 8 == 0, "organization.width_bits", "must be a multiple of 8");
  s.burst_length = r.count(o.has_burst_length(), o.burst_length(), "burst_length", false);

  const auto& t = c.timing();
  r.check(t.has_tck_ns() && std::isfinite(t.tck_ns()) && t.tck_ns() > 0, "timing.tck_ns",
          "must be > 0 (ns)");
  s.tck_ps = t.tck_ns() * 1e3;
  if (s.tck_ps >= 1 && s.tck_ps < 1e9 && s.tck_ps == std::floor(s.tck_ps)) {
    s.tck_whole_ps = static_cast<uint64_t>(s.tck_ps);
    s.whole_ps_clocks = (uint64_t{1} << 53) / s.tck_whole_ps;
  }
  s.burst_cycles = r.cycles(t.has_burst_cycles(), t.burst_cycles(), "burst_cycles");
  r.check(s.burst_cycles >= 1, "timing.burst_cycles", "must be >= 1");
  s.CL = r.cycles(t.has_ncl(), t.ncl(), "nCL");
  s.CWL = r.cycles(t.has_ncwl(), t.ncwl(), "nCWL");
  s.RCD_RD = r.cycles(t.has_nrcd_rd(), t.nrcd_rd(), "nRCD_RD");
  s.RCD_WR = r.cycles(t.has_nrcd_wr(), t.nrcd_wr(), "nRCD_WR");
  s.RP = r.cycles(t.has_nrp(), t.nrp(), "nRP");
  s.RAS = r.cycles(t.has_nras(), t.nras(), "nRAS");
  s.RC = r.cycles(t.has_nrc(), t.nrc(), "nRC");
  s.WR = r.cycles(t.has_nwr(), t.nwr(), "nWR");
  s.RTP = r.cycles(t.has_nrtp(), t.nrtp(), "nRTP");
  s.CCD_S = r.cycles(t.has_nccd_s(), t.nccd_s(), "nCCD_S");
  s.CCD_L = r.cycles(t.has_nccd_l(), t.nccd_l(), "nCCD_L");
  s.RRD_S = r.cycles(t.has_nrrd_s(), t.nrrd_s(), "nRRD_S");
  s.RRD_L = r.cycles(t.has_nrrd_l(), t.nrrd_l(), "nRRD_L");
  s.FAW = r.cycles(t.has_nfaw(), t.nfaw(), "nFAW");
  s.WTR_S = r.cycles(t.has_nwtr_s(), t.nwtr_s(), "nWTR_S");
  s.WTR_L = r.cycles(t.has_nwtr_l(), t.nwtr_l(), "nWTR_L");
  s.RTW = r.cycles(t.has_nrtw(), t.nrtw(), "nRTW");
  s.RFC = r.ns(t.has_trfc_ns(), t.trfc_ns(), "tRFC_ns", s.tck_ps);
  s.RFCpb = r.ns(t.has_trfcpb_ns(), t.trfcpb_ns(), "tRFCpb_ns", s.tck_ps);
  s.REFI = r.ns(t.has_trefi_ns(), t.trefi_ns(), "tREFI_ns", s.tck_ps);

  r.check(s.RC >= s.RAS + s.RP, "timing.nRC",
          fmt::format("nRC {} must be >= nRAS + nRP = {}", s.RC, s.RAS + s.RP));
  r.check(s.CCD_S >= s.burst_cycles, "timing.nCCD_S",
          fmt::format("must be >= burst_cycles ({})", s.burst_cycles));
  r.check(s.CCD_L >= s.CCD_S, "timing.nCCD_L", "must be >= nCCD_S");
  r.check(s.RRD_L >= s.RRD_S, "timing.nRRD_L", "must be >= nRRD_S");
  r.check(s.WTR_L >= s.WTR_S, "timing.nWTR_L", "must be >= nWTR_S");
  r.check(s.RCD_RD >= 1 && s.RP >= 1 && s.RAS >= 1, "timing", "nRCD_RD, nRP and nRAS must be >= 1");
  r.check(s.REFI > s.RFC, "timing.tREFI_ns", "must exceed tRFC_ns");

  s.page_policy = c.page_policy() == DramConfig::PAGE_POLICY_UNSPECIFIED ? DramConfig::OPEN_PAGE
                                                                         : c.page_policy();
  s.refresh = c.refresh() == DramConfig::REFRESH_UNSPECIFIED ? DramConfig::ALL_BANK : c.refresh();
  s.read_queue = c.has_read_queue() ? c.read_queue() : 64;
  s.write_queue = c.has_write_queue() ? c.write_queue() : 64;
  r.check(s.read_queue >= 1, "read_queue", "must be >= 1");
  r.check(s.write_queue >= 1, "write_queue", "must be >= 1");
  s.write_high = c.has_write_high() ? c.write_high() : std::max(1u, s.write_queue * 3 / 4);
  s.write_low = c.has_write_low() ? c.write_low() : s.write_queue / 4;
  r.check(s.write_high <= s.write_queue, "write_high", "must be <= write_queue");
  r.check(s.write_low < s.write_high, "write_low", "must be < write_high");
  const double age_ns = c.has_write_age_ns() ? c.write_age_ns() : 500.0;
  r.check(std::isfinite(age_ns) && age_ns >= 0 && age_ns <= 1e6, "write_age_ns",
          "must be >= 0 and <= 1e6 (ns)");
  s.write_age = static_cast<uint64_t>(std::ceil(age_ns * 1e3 / s.tck_ps));
  s.row_granular = c.has_row_granular() ? c.row_granular() : true;
  s.energy = c.energy();
  const auto& e = s.energy;
  for (const auto& [field, value] : {std::pair<const char*, double>{"energy.act_nj", e.act_nj()},
                                     {"energy.read_pj_per_bit", e.read_pj_per_bit()},
                                     {"energy.write_pj_per_bit", e.write_pj_per_bit()},
                                     {"energy.io_pj_per_bit", e.io_pj_per_bit()},
                                     {"energy.refresh_nj", e.refresh_nj()},
                                     {"energy.background_mw", e.background_mw()}}) {
    r.check(std::isfinite(value) && value >= 0, field, "must be >= 0");
  }
  s.mapping = c.address_mapping();
  s.channel_hash = c.has_channel_hash() && c.channel_hash();
  r.check(!s.mapping.empty(), "address_mapping", "is required (or name a preset)");
  return s;
}

}  // namespace npusim::memory::dram

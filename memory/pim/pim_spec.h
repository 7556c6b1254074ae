// A PIM memory resolved from its PimConfig (a preset plus overrides): the
// DRAM it is built on, with its PIM command timings, and its units.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/dram/address_mapping.h"
#include "memory/dram/spec.h"
#include "memory/memory.pb.h"
#include "memory/pim/pim_cost.h"
#include "memory/pim/pim_layout.h"

namespace npusim::memory::pim {

struct PimSpec {
  dram::DramSpec dram;  // its CCDAB (the capped or unconstrained value), RTPL, WRGB, RDRES set
  std::string name;
  uint32_t banks_per_unit = 1;
  uint32_t lanes = 16;
  double clock_mhz = 0;
  uint32_t buffer_bytes = 0;  // input the channel's GEMV buffer holds
  double mac_pj = 0;
  uint32_t mode_switch_acts = 0;
  double actab_acts = 0, macab_reads = 0;  // energy multiples
  bool power_capped = true;

  [[nodiscard]] uint32_t units() const { return dram.banks() / banks_per_unit; }  // per channel
  [[nodiscard]] uint32_t total_units() const { return units() * dram.total_channels(); }
  [[nodiscard]] PimGeometry geometry() const {
    return {dram.total_channels(), dram.banks(), dram.columns,
            static_cast<uint32_t>(dram.burst_bytes())};
  }
  // Clocks from one MACAB to the next for `element_bytes` elements: nCCDAB,
  // or the unit's cycles for a column of them if longer.
  [[nodiscard]] uint32_t macab_spacing(uint32_t element_bytes) const;
  // Multiply-accumulates per second at that spacing, all units (2 flops each).
  [[nodiscard]] double macs_per_second(uint32_t element_bytes) const;
  // The numbers of the first-order GEMV time estimate (pim_cost.h).
  [[nodiscard]] PimCost cost() const;
  // The units' own peak: units x lanes x clock.
  [[nodiscard]] double unit_macs_per_second() const {
    return static_cast<double>(total_units()) * lanes * clock_mhz * 1e6;
  }
};

// The preset merged with the fields `config` sets (the DRAM's too); UserError
// if the preset is unknown.
[[nodiscard]] PimConfig resolve_config(const PimConfig& config, const std::string& where,
                                       const std::string& path);
// Resolves and validates; UserError naming `where` and `path`.field.
[[nodiscard]] PimSpec resolve_spec(const PimConfig& config, const std::string& where,
                                   const std::string& path);
[[nodiscard]] std::vector<std::string> preset_names();

// A GEMV's weights in a PIM memory: the layout (pim_layout.h) and the local
// byte address of each weight, through the memory's address mapping.
class PimRegion {
 public:
  // UserError-free: `base_address` must be a multiple of the stripe (check
  // with aligned()).
  PimRegion(const PimSpec& spec, uint64_t base_address, uint32_t out_rows, uint32_t in_cols,
            uint32_t element_bytes, uint32_t blocks = 1);
  [[nodiscard]] static bool aligned(const PimSpec& spec, uint64_t address) {
    return address % spec.geometry().stripe_bytes() == 0;
  }
  [[nodiscard]] const PimLayout& layout() const { return layout_; }
  [[nodiscard]] uint64_t bytes() const { return layout_.region_bytes(); }
  [[nodiscard]] uint64_t address(uint32_t m, uint32_t k, uint32_t block = 0) const;

 private:
  dram::DramSpec dram_;
  dram::AddressMapping mapping_;
  PimLayout layout_;
};

}  // namespace npusim::memory::pim

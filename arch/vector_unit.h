// The vector unit: `lanes` elements per cycle per pass, one instruction at a
// time, costs from vector_costs.h.
#pragma once

#include <cstdint>

#include "arch/engine.h"

namespace npusim::arch {

struct VectorStats {
  uint64_t ops = 0;
  uint64_t cycles = 0;
  uint64_t element_passes = 0;  // elements x passes over them (the energy's events)
  // Scratchpad traffic: inputs read and the output written once per
  // instruction; its passes work on data held in the unit (assumed).
  uint64_t spm_bytes = 0;
};

class VectorUnit : public Engine {
 public:
  VectorUnit(const sc_core::sc_module_name& name, const Instructions& queue, CoreContext& context,
             uint32_t lanes);

  [[nodiscard]] const VectorStats& stats() const { return stats_; }
  // What the op still running at `t_ps` has left, spread evenly over its
  // cycles (stats() counts an op when it starts).
  struct Pending {
    double element_passes = 0, spm_bytes = 0;
  };
  [[nodiscard]] Pending pending_at(uint64_t t_ps) const;

 protected:
  void execute(const Instruction& instruction) override;

 private:
  uint32_t lanes_;
  VectorStats stats_;
  uint64_t start_ps_ = 0, end_ps_ = 0;  // the latest op
  Pending latest_;                      // and all it counted
  ResourceLedger::Column lanes_column_ = 0;
};

}  // namespace npusim::arch

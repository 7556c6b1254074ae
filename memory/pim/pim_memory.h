// A DRAM whose banks compute. Ordinary reads and writes go to the DRAM model
// it derives from (the same controllers, the same timing); a payload with a
// PimGemv extension (pim_request.h) is a GEMV over a region laid out as
// pim_layout.h says: each channel holding part of it runs its share as PIM
// commands (pim_channel.h) once the requests queued before it are served,
// holding later ones back (a channel in PIM mode serves no ordinary access),
// and the request is answered when the last channel's results are out. A
// payload with a PimWrite extension writes each element's burst where the
// layout puts it, as ordinary DRAM writes (masked bursts).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "memory/dram/dram_memory.h"
#include "memory/pim/pim_channel.h"
#include "memory/pim/pim_request.h"
#include "memory/pim/pim_spec.h"

namespace npusim::memory::pim {

class PimMemory : public dram::DramMemory {
 public:
  PimMemory(const sc_core::sc_module_name& name, const PimSpec& spec, uint64_t capacity_bytes = 0);

  void report(MemoryReport* out) const override;
  void energy(double seconds, MemoryEnergy* out) const override;
  // The DRAM's, and "PIM MACs" (multiply-accumulates of every unit).
  void register_resources(ResourceLedger& ledger) override;
  [[nodiscard]] const PimSpec& pim_spec() const { return pim_; }

 protected:
  void accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) override;

 private:
  struct Gemv {
    tlm::tlm_generic_payload* trans = nullptr;
    uint32_t channels_left = 0;
    uint64_t done_clock = 0;
  };
  void finished(uint32_t gemv, uint64_t clock);
  void gemv(tlm::tlm_generic_payload& trans, const PimGemv& g, uint64_t arrival_ps);
  void write(tlm::tlm_generic_payload& trans, const PimWrite& w, uint64_t arrival_ps);
  // The layout of the region at `base` a request addresses; null when it is
  // refused (answered at once: a bad shape, unless `shape_ok`, or past the
  // capacity).
  std::optional<PimLayout> region(tlm::tlm_generic_payload& trans, uint64_t base, uint32_t out_rows,
                                  uint32_t in_cols, uint32_t eb, uint32_t blocks, bool shape_ok,
                                  uint64_t arrival_ps);
  // Answers `trans` with `status` at once; false when the shape is fine.
  bool refuse(bool bad, tlm::tlm_generic_payload& trans, tlm::tlm_response_status status,
              uint64_t arrival_ps);

  PimSpec pim_;
  std::vector<std::unique_ptr<PimChannel>> pim_channels_;
  SlotPool<Gemv> gemvs_;
  uint64_t answered_ = 0;
};

}  // namespace npusim::memory::pim

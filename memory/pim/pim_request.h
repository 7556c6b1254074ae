// What the NPU asks a PIM memory for: a GEMV (or a batch of them) over a
// weight matrix already laid out in the memory's PIM region (pim_layout.h),
// as a TLM-2.0 generic-payload extension. The payload is a read: its address
// is the region's first byte (pim_layout.h: aligned to a stripe), its length
// the results' bytes (out_rows x vectors x element_bytes); the memory answers
// with BEGIN_RESP once the results have been read out of the banks.
// Functional mode computes the values; the model times the commands.
#pragma once

#include <cstdint>
#include <tlm>

namespace npusim::memory::pim {

struct PimGemv : tlm::tlm_extension<PimGemv> {
  uint32_t out_rows = 0;       // M: rows of the weight matrix, outputs per vector
  uint32_t in_cols = 0;        // K: columns, inputs per vector
  uint32_t element_bytes = 2;  // of weights, inputs and results (fp16 / bf16: 2)
  uint32_t vectors = 1;        // input vectors multiplied by the same weights (batch)

  [[nodiscard]] tlm::tlm_extension_base* clone() const override { return new PimGemv(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const PimGemv&>(other);
  }
};

}  // namespace npusim::memory::pim

// What the NPU asks a PIM memory for, as TLM-2.0 generic-payload extensions.
//
// PimGemv: a GEMV (or a batch of them) over a weight matrix already laid out
// in the memory's PIM region (pim_layout.h). The payload is a read: its
// address is the region's first byte (pim_layout.h: aligned to a stripe), its
// length the results' bytes (out_rows x vectors x element_bytes); the memory
// answers with BEGIN_RESP once the results have been read out of the banks.
//
// PimWrite: a write of part of such a region given in the matrices' logical
// order (what an append to a KV cache laid out for PIM writes): the payload's
// bytes are the stored matrices' [region, region + blocks x M x K x element
// bytes) in row-major order, [blocks][M][K] when `outputs_major` (a K cache:
// a position's key is an output row) else [blocks][K][M] (a V cache, a
// weight); the memory writes each element's burst where the layout puts it.
//
// Functional mode computes and stores the values logically; the model times
// the commands.
#pragma once

#include <cstdint>
#include <tlm>

namespace npusim::memory::pim {

struct PimGemv : tlm::tlm_extension<PimGemv> {
  uint32_t out_rows = 0;       // M: rows of the weight matrix, outputs per vector
  uint32_t in_cols = 0;        // K: columns, inputs per vector
  uint32_t element_bytes = 2;  // of weights, inputs and results (fp16 / bf16: 2)
  uint32_t vectors = 1;        // input vectors multiplied by the same weights (batch)
  uint32_t blocks = 1;         // matrices of M x K in the region (pim_layout.h)
  uint32_t block = 0;          // the one multiplied

  [[nodiscard]] tlm::tlm_extension_base* clone() const override { return new PimGemv(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const PimGemv&>(other);
  }
};

struct PimWrite : tlm::tlm_extension<PimWrite> {
  uint64_t region = 0;  // the region's first byte (aligned to a stripe)
  uint32_t out_rows = 0, in_cols = 0, element_bytes = 2, blocks = 1;
  bool outputs_major = false;

  [[nodiscard]] tlm::tlm_extension_base* clone() const override { return new PimWrite(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const PimWrite&>(other);
  }
};

}  // namespace npusim::memory::pim

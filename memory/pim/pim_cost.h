// A first-order estimate of a PIM GEMV's time, for the compiler's offload
// decision (compiler/passes/pim_offload.h): pure, no SystemC, filled from a
// PimSpec by sim/ (the compiler never sees the memory's model).
//
// The model follows the commands pim_channel.h plans, on the busiest
// channel (the one holding the most groups of output rows), per pass of
// vectors (as many as the GEMV buffer holds rows of input for):
//
//   per batch of chunks (the buffer's rows):  broadcast = bursts x tWRGB + CWL + BL,
//     its first row's ACTAB overlapping it: max(broadcast, nRTPL + nRP + nRCD) + MACs
//   per further row (MACAB->PREA, PREA->ACTAB, ACTAB->MACAB):
//     nRTPL + nRP + nRCD + MACs (at least nRC),
//     MACs = (MACABs - 1) x nCCDAB, MACABs = columns x banks per unit x vectors
//   the last readout:  bursts x tRDRES + CL + BL
//   mode switches in and out:  2 x acts x nRC
//   all stretched by an all-bank refresh's share: tREFI / (tREFI - tRFC)
//
// hardware.md's "MACAB count x nCCDAB + rows x (nRCD + nRP) + broadcast +
// readout", with the broadcast serialised with the MACs when the buffer holds
// one row of input (the next chunk's input may overwrite it only after its
// last MACAB). Refreshes falling mid-row and the readouts overlapping the
// rows make it an estimate: tests/test_pim_offload.cpp states how close it comes.
#pragma once

#include <algorithm>
#include <cstdint>

#include "memory/pim/pim_layout.h"

namespace npusim::memory::pim {

struct PimCost {
  PimGeometry geometry;
  double tck_ns = 1;
  uint32_t banks_per_unit = 1;
  uint32_t buffer_bytes = 0;  // input the channel's GEMV buffer holds
  uint32_t mode_switch_acts = 0;
  // Clocks: MACAB to MACAB for 2-byte elements (PimSpec::macab_spacing(2)),
  // a broadcast and a readout burst apart, and the DRAM's.
  uint32_t macab = 1, wrgb = 1, rdres = 1;
  uint32_t RCD = 0, RP = 0, RAS = 0, RC = 0, RTPL = 0, CL = 0, CWL = 0, BL = 0;
  // All-bank refresh stops every unit for tRFC each tREFI: the time
  // stretches by tREFI / (tREFI - tRFC) (1: no all-bank refresh).
  double refresh_stretch = 1;

  // DRAM clocks of a GEMV of `out_rows` x `in_cols` 2-byte weights over
  // `vectors` inputs.
  [[nodiscard]] double clocks(uint32_t out_rows, uint32_t in_cols, uint32_t vectors) const {
    const PimLayout layout(geometry, 0, out_rows, in_cols, 2);
    const uint64_t groups = layout.groups_on(0);  // channel 0 holds the most
    const uint64_t chunks = layout.chunks();
    const uint64_t slots = std::max<uint64_t>(1, buffer_bytes / geometry.row_bytes());
    const uint64_t per_pass = std::min<uint64_t>(vectors, slots);
    const uint64_t batch_chunks = std::max<uint64_t>(1, slots / per_pass);
    double total = 2.0 * mode_switch_acts * RC;
    for (uint64_t done = 0; done < vectors; done += per_pass) {
      const uint64_t v = std::min<uint64_t>(per_pass, vectors - done);
      const uint64_t macabs = uint64_t{geometry.columns} * banks_per_unit * v;
      const double macs = (macabs - 1.0) * macab;
      // A row: PREA->ACTAB, ACTAB->MACAB, the MACABs, MACAB->PREA.
      const double row = std::max<double>(RC, RP + RCD + macs + RTPL);
      for (uint64_t c = 0; c < chunks; c += batch_chunks) {
        const uint64_t in_batch = std::min(batch_chunks, chunks - c);
        // The batch's first row opens while its input is broadcast.
        const double broadcast =
            static_cast<double>(v * in_batch * geometry.columns) * wrgb + CWL + BL;
        const double first = std::max<double>(broadcast, RTPL + RP + RCD) + macs;
        total += first + static_cast<double>(groups * in_batch - 1) * row;
      }
    }
    const uint64_t result_bytes = uint64_t{geometry.banks} * per_pass * 2;
    total += static_cast<double>((result_bytes + geometry.burst_bytes - 1) / geometry.burst_bytes) *
                 rdres +
             CL + BL;
    return total * refresh_stretch;
  }
  [[nodiscard]] double ns(uint32_t out_rows, uint32_t in_cols, uint32_t vectors) const {
    return clocks(out_rows, in_cols, vectors) * tck_ns;
  }
  [[nodiscard]] uint64_t region_bytes(uint32_t out_rows, uint32_t in_cols) const {
    return PimLayout(geometry, 0, out_rows, in_cols, 2).region_bytes();
  }
};

}  // namespace npusim::memory::pim

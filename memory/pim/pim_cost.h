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
//     MACs = (MACABs - 1) x nCCDAB,
//     MACABs = the chunk's columns x banks per unit x vectors
//   the last readout:  bursts x tRDRES + CL + BL
//   mode switches in and out:  2 x acts x nRC (once for blocks queued together)
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

#include "common/integer.h"
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
  // `vectors` inputs; with `blocks` > 1, of one GEMV on each of the `count`
  // blocks from `first` (0: all; pim_layout.h), each with its own input, all
  // queued at once: the busiest channel runs its share of each, staying in
  // PIM mode.
  [[nodiscard]] double clocks(uint32_t out_rows, uint32_t in_cols, uint32_t vectors,
                              uint32_t blocks = 1, uint32_t first = 0, uint32_t count = 0) const {
    const PimLayout layout(geometry, 0, out_rows, in_cols, 2, blocks);
    const uint32_t end = count == 0 ? blocks : first + count;
    // One block: channel 0 holds the most groups.
    const uint32_t channels = blocks == 1 ? 1 : geometry.channels;
    double busiest = 0;
    for (uint32_t c = 0; c < channels; ++c) {
      double t = 0;
      for (uint32_t b = first; b < end; ++b) {
        const uint32_t groups = layout.groups_on(c, b);
        if (groups > 0) t += job_clocks(layout, groups, vectors);
      }
      busiest = std::max(busiest, t);
    }
    return (2.0 * mode_switch_acts * RC + busiest) * refresh_stretch;
  }
  [[nodiscard]] double ns(uint32_t out_rows, uint32_t in_cols, uint32_t vectors,
                          uint32_t blocks = 1, uint32_t first = 0, uint32_t count = 0) const {
    return clocks(out_rows, in_cols, vectors, blocks, first, count) * tck_ns;
  }
  // Leaving PIM mode and entering it again (an ordinary access between two
  // GEMVs), ns.
  [[nodiscard]] double mode_round_trip_ns() const { return 2.0 * mode_switch_acts * RC * tck_ns; }
  [[nodiscard]] uint64_t region_bytes(uint32_t out_rows, uint32_t in_cols,
                                      uint32_t blocks = 1) const {
    return PimLayout(geometry, 0, out_rows, in_cols, 2, blocks).region_bytes();
  }

 private:
  // One channel's share (`groups` groups of output rows) of one GEMV.
  [[nodiscard]] double job_clocks(const PimLayout& layout, uint32_t groups,
                                  uint32_t vectors) const {
    const uint64_t chunks = layout.chunks();
    const auto columns = [&](uint64_t c) -> uint64_t {
      return c + 1 == chunks ? layout.last_chunk_columns() : geometry.columns;
    };
    const uint64_t slots = std::max<uint64_t>(1, buffer_bytes / geometry.row_bytes());
    const uint64_t per_pass = std::min<uint64_t>(vectors, slots);
    const uint64_t batch_chunks = std::max<uint64_t>(1, slots / per_pass);
    double total = 0;
    for (uint64_t done = 0; done < vectors; done += per_pass) {
      const uint64_t v = std::min<uint64_t>(per_pass, vectors - done);
      // MACABs of a row of chunk c; a row: PREA->ACTAB, ACTAB->MACAB, the
      // MACABs, MACAB->PREA.
      const auto macs = [&](uint64_t c) {
        return (static_cast<double>(columns(c) * banks_per_unit * v) - 1.0) * macab;
      };
      const auto row = [&](uint64_t c) { return std::max<double>(RC, RP + RCD + macs(c) + RTPL); };
      for (uint64_t c0 = 0; c0 < chunks; c0 += batch_chunks) {
        const uint64_t c1 = std::min(chunks, c0 + batch_chunks);
        double rows = 0;
        uint64_t broadcast_columns = 0;
        for (uint64_t c = c0; c < c1; ++c) {
          rows += row(c);
          broadcast_columns += columns(c);
        }
        // The batch's first row opens while its input is broadcast.
        const double broadcast = static_cast<double>(v * broadcast_columns) * wrgb + CWL + BL;
        const double first = std::max<double>(broadcast, RTPL + RP + RCD) + macs(c0);
        total += first + groups * rows - row(c0);
      }
    }
    const uint64_t result_bytes = uint64_t{geometry.banks} * per_pass * 2;
    return total + static_cast<double>(ceil_div(result_bytes, geometry.burst_bytes)) * rdres + CL +
           BL;
  }
};

}  // namespace npusim::memory::pim

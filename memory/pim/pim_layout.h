// Where a PIM GEMV's weights live: a pure function of the memory's geometry
// and the matrix shape (no SystemC; the compiler writes weights with it,
// functional mode reads them, the model times the commands it implies).
//
// Layout (Newton / AttAcc style, row-interleaved across banks): output rows
// go to banks in groups of `banks` (one output row per bank of a channel),
// groups round-robin over the channels; an output row's inputs k are cut in
// chunks of one DRAM row each (elements_per_row = columns x elements per
// column), the chunks of a group in consecutive DRAM rows of its banks:
//
//   group g = m / banks, bank = m % banks, channel = g % channels,
//   chunk c = k / elements_per_row,
//   row     = base_row + (g / channels) x chunks + c,
//   column  = (k % elements_per_row) / elements_per_column,
//   byte    = (k % elements_per_column) x element_bytes.
//
// One ACTAB then opens a row holding one chunk of `banks` output rows in a
// channel, and its MACABs walk the columns with the input chunk in the
// buffer. The region is rows [base_row, base_row + rows()) of every bank of
// every channel; with the row as the mapping's most significant field (a
// PIM memory requires it) those are the bytes [base_row x stripe,
// (base_row + rows()) x stripe), stripe = row bytes x banks x channels.
// Slots past M or K are padding (the compiler writes zeros there).
//
// Several matrices of one shape (`blocks`: decode attention's K or V cache,
// one block per sequence and KV head) stack along M, each block's output
// rows padded to whole groups: block b's rows are groups [b x G, (b + 1) x G),
// G = ceil(M / banks), so the blocks spread over the channels in turn and a
// GEMV on one block runs on the channels holding its groups:
//
//   group g = b x G + m / banks   (the rest as above).
#pragma once

#include <cstdint>

#include "common/integer.h"

namespace npusim::memory::pim {

// What the layout needs of the memory (PimSpec::geometry()).
struct PimGeometry {
  uint32_t channels = 1;      // all stacks'
  uint32_t banks = 1;         // per channel
  uint32_t columns = 1;       // bursts per DRAM row
  uint32_t burst_bytes = 32;  // bytes per column
  [[nodiscard]] uint64_t row_bytes() const { return uint64_t{columns} * burst_bytes; }
  // Bytes of one DRAM row in every bank of every channel.
  [[nodiscard]] uint64_t stripe_bytes() const { return row_bytes() * banks * channels; }
};

struct PimPlace {
  uint32_t channel = 0, bank = 0, row = 0, column = 0, byte = 0;
};

class PimLayout {
 public:
  // `base_row`: the region's first DRAM row. element_bytes must divide the
  // burst bytes (PimSpec checks requests).
  PimLayout(const PimGeometry& g, uint32_t base_row, uint32_t out_rows, uint32_t in_cols,
            uint32_t element_bytes, uint32_t blocks = 1)
      : g_(g),
        base_row_(base_row),
        m_(out_rows),
        k_(in_cols),
        eb_(element_bytes),
        blocks_(blocks) {}

  [[nodiscard]] uint32_t elements_per_column() const { return g_.burst_bytes / eb_; }
  [[nodiscard]] uint64_t elements_per_row() const {
    return uint64_t{g_.columns} * elements_per_column();
  }
  [[nodiscard]] uint32_t block_groups() const {
    return static_cast<uint32_t>(ceil_div(m_, g_.banks));
  }
  [[nodiscard]] uint64_t groups() const { return uint64_t{blocks_} * block_groups(); }
  [[nodiscard]] uint32_t chunks() const {
    return static_cast<uint32_t>(ceil_div(k_, elements_per_row()));
  }
  // Columns the last chunk fills (the MACs a row of it takes per bank).
  [[nodiscard]] uint32_t last_chunk_columns() const {
    const uint64_t rest = k_ - (uint64_t{chunks()} - 1) * elements_per_row();
    return static_cast<uint32_t>(ceil_div(rest, elements_per_column()));
  }
  // Groups channel `c` computes, of every block.
  [[nodiscard]] uint32_t groups_on(uint32_t c) const {
    return static_cast<uint32_t>(groups() / g_.channels + (c < groups() % g_.channels ? 1 : 0));
  }
  // Of block `b`: the groups channel `c` computes, and the first one's slot
  // (its DRAM rows are base_row + slot x chunks onwards; the block's next
  // groups on the channel take the slots after it).
  [[nodiscard]] uint32_t groups_on(uint32_t c, uint32_t b) const {
    const uint64_t first = first_group_on(c, b), end = uint64_t{b + 1} * block_groups();
    return first >= end ? 0 : static_cast<uint32_t>((end - 1 - first) / g_.channels + 1);
  }
  [[nodiscard]] uint32_t first_slot_on(uint32_t c, uint32_t b) const {
    return static_cast<uint32_t>(first_group_on(c, b) / g_.channels);
  }
  // DRAM rows the region takes in every bank.
  [[nodiscard]] uint32_t rows() const {
    return static_cast<uint32_t>(ceil_div(groups(), g_.channels) * chunks());
  }
  [[nodiscard]] uint64_t region_bytes() const { return uint64_t{rows()} * g_.stripe_bytes(); }
  [[nodiscard]] uint64_t base_address() const { return uint64_t{base_row_} * g_.stripe_bytes(); }

  // Where weight (m, k) of block b lives (m < out_rows, k < in_cols;
  // padding slots too).
  [[nodiscard]] PimPlace place(uint32_t m, uint32_t k, uint32_t b = 0) const {
    const uint64_t group = uint64_t{b} * block_groups() + m / g_.banks;
    const uint64_t per_row = elements_per_row();
    const uint32_t in_row = static_cast<uint32_t>(k % per_row);
    PimPlace p;
    p.channel = static_cast<uint32_t>(group % g_.channels);
    p.bank = m % g_.banks;
    p.row = base_row_ + static_cast<uint32_t>(group / g_.channels) * chunks() +
            static_cast<uint32_t>(k / per_row);
    p.column = in_row / elements_per_column();
    p.byte = in_row % elements_per_column() * eb_;
    return p;
  }

 private:
  // Block b's first group on channel c (past its last when it has none).
  [[nodiscard]] uint64_t first_group_on(uint32_t c, uint32_t b) const {
    const uint64_t begin = uint64_t{b} * block_groups();
    return begin + (c + g_.channels - begin % g_.channels) % g_.channels;
  }

  PimGeometry g_;
  uint32_t base_row_;
  uint32_t m_, k_, eb_, blocks_;
};

}  // namespace npusim::memory::pim

// Cycle cost of vector-unit operations. A vector op over `length` elements in
// rows of `row_length` costs
//
//   latency + passes * ceil(length / lanes) + row_groups
//           + trees * log2(min(row_length, lanes)) + per_row
//
// where a pass streams every element through the lanes once, a tree is a
// cross-lane reduction, per_row is scalar work per row (rsqrt, division),
// and rows shorter than the lanes are reduced side by side (row_groups =
// rows / max(1, lanes / row_length), rounded up). Trees and the scalar unit
// are pipelined: a row group enters them each cycle and their depth is paid
// once per instruction. The numbers per kind are in vector_costs.cpp.
#pragma once

#include <cstdint>

#include "arch/isa.pb.h"

namespace npusim::arch {

struct VectorCost {
  uint32_t passes = 1;        // full sweeps over the data
  uint32_t trees = 0;         // cross-lane reductions per row
  uint32_t per_row = 0;       // fixed scalar cycles per row
  uint32_t latency = 4;       // pipeline fill, once per instruction
  bool reduces_rows = false;  // writes one result per row (REDUCE_*), not per element
};

// nullptr when the kind has no cost entry.
[[nodiscard]] const VectorCost* vector_cost(VectorKind kind);

[[nodiscard]] uint64_t vector_cycles(const VectorCost& cost, uint64_t length, uint64_t row_length,
                                     uint32_t lanes);

// The dtype a vector op writes: out_dtype, or its dtype when unspecified.
[[nodiscard]] DType vector_out_dtype(const VectorOp& op);

// Scratchpad bytes a vector op moves: one element of each input per element
// processed (a parameter row is read again for every row), one result per
// element (per row when it reduces rows), and the fp32 row state: the ROW_
// kinds read a value per row, ONLINE_SOFTMAX reads m and l and writes m, l
// and alpha.
[[nodiscard]] uint64_t vector_spm_bytes(const VectorOp& op, const VectorCost& cost);

}  // namespace npusim::arch

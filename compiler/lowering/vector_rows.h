// Helpers for lowerings that move rows through the vector unit's buffers.
#pragma once

#include <cstdint>

#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

// Rows of `row_bytes` one vector buffer holds; UserError naming the
// scratchpad capacity when not even one fits.
[[nodiscard]] uint64_t rows_per_slot(const LoweringContext& ctx, const Node& node,
                                     uint64_t row_bytes);

// A vector instruction of `kind` over `length` elements from `in` to `out`.
[[nodiscard]] VectorOp vector_op(VectorKind kind, uint64_t length, DType dtype, const Buffer& in,
                                 const Buffer& out);

}  // namespace npusim::compiler

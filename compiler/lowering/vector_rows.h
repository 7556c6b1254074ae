// Helpers for lowerings that move rows through the vector unit's buffers.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

// Rows of `row_bytes` one vector buffer holds; UserError naming the
// scratchpad capacity when not even one fits.
[[nodiscard]] uint64_t rows_per_slot(const LoweringContext& ctx, const Node& node,
                                     uint64_t row_bytes);

// A vector instruction of `kind` over `length` elements from `in` to `out`.
[[nodiscard]] VectorOp vector_op(VectorKind kind, uint64_t length, DType dtype, const Buffer& in,
                                 const Buffer& out);

// Copies `rows` rows of `width` elements through the vector unit (converting
// x's dtype to y's): row r is read at element x_col + r * x_ld of x and
// written at y_col + r * y_ld of y.
void copy_rows(LoweringContext& ctx, const Node& node, const Tensor& x, uint64_t x_col,
               uint64_t x_ld, const Tensor& y, uint64_t y_col, uint64_t y_ld, uint64_t rows,
               uint64_t width);

// Row i of y (rows of `width` elements, back to back) is row src[i] of x:
// one DMA per row into the vector unit's buffers, then a copy out (left on
// chip when y is forwarded). A row src[i] = kOtherShardRow (graph_util.h)
// is zeros.
void gather_rows(LoweringContext& ctx, const Node& node, const Tensor& x,
                 const std::vector<uint64_t>& src, const Tensor& y, uint64_t width);

}  // namespace npusim::compiler

#include "arch/vector_costs.h"

#include <algorithm>
#include <map>

#include "common/dtype.h"
#include "common/integer.h"

namespace npusim::arch {
namespace {
// Assumptions, not measurements: a lane does one multiply-add per cycle and a
// special-function (exp) in the same pass; costs follow the op's arithmetic.
const std::map<VectorKind, VectorCost>& table() {
  static const std::map<VectorKind, VectorCost> costs = {
      {ADD, {1, 0, 0, 4}},
      {MUL, {1, 0, 0, 4}},
      {COPY, {1, 0, 0, 4}},
      {FILL, {1, 0, 0, 4}},  // one write per element
      {RELU, {1, 0, 0, 4}},
      {SUB, {1, 0, 0, 4}},
      {DIV, {2, 0, 0, 8}},  // reciprocal and multiply
      {POW, {3, 0, 0, 8}},  // exp(y * log(x))
      {SQRT, {2, 0, 0, 8}},
      {ERF, {3, 0, 0, 8}},  // polynomial approximation
      {TANH, {3, 0, 0, 8}},
      {SIGMOID, {3, 0, 0, 8}},            // 1 / (1 + exp(-x))
      {REDUCE_MEAN, {1, 1, 4, 4, true}},  // sum, one scale per row
      {ROW_SCALE_ADD, {1, 0, 0, 4}},      // one multiply-add per element
      {ROW_DIV, {1, 0, 1, 8}},            // a reciprocal per row, a multiply per element
      // max, exp(x - max), sum; per row the new maximum, alpha = exp(m - m')
      // and l * alpha + sum
      {ONLINE_SOFTMAX, {3, 2, 12, 8}},
      {REDUCE_SUM, {1, 1, 0, 4, true}},
      {REDUCE_MAX, {1, 1, 0, 4, true}},
      {EXP, {2, 0, 0, 8}},
      {SILU, {3, 0, 0, 8}},       // x * 1 / (1 + exp(-x))
      {GELU, {4, 0, 0, 8}},       // tanh approximation
      {GELU_TANH, {4, 0, 0, 8}},  // the same
      {SWIGLU, {4, 0, 0, 8}},     // silu(gate) * up
      {ROPE, {3, 0, 0, 4}},       // x * cos + rotate(x) * sin
      {SOFTMAX, {4, 2, 8, 8}},    // max, exp(x - max), sum, scale; 1 division per row
      {RMSNORM, {2, 1, 8, 8}},    // sum of squares, scale; 1 rsqrt per row
      {LAYERNORM, {4, 2, 8, 8}},  // mean, variance, scale and shift; 1 rsqrt per row
  };
  return costs;
}

uint32_t log2_ceil(uint32_t v) {
  uint32_t r = 0;
  while ((1u << r) < v) ++r;
  return r;
}
}  // namespace

const VectorCost* vector_cost(VectorKind kind) {
  auto it = table().find(kind);
  return it == table().end() ? nullptr : &it->second;
}

uint64_t vector_cycles(const VectorCost& cost, uint64_t length, uint64_t row_length,
                       uint32_t lanes) {
  const uint64_t row = row_length == 0 ? length : row_length;
  const uint64_t rows = row == 0 ? 0 : ceil_div(length, row);
  const uint64_t sweeps = ceil_div(length, lanes);
  // Rows shorter than the lanes are reduced side by side (segmented trees).
  // The reduction trees and the scalar unit are pipelined: each group of
  // rows enters them one cycle after the last, and their depth is paid once.
  const uint64_t side_by_side = std::max<uint64_t>(1, lanes / std::max<uint64_t>(row, 1));
  const uint64_t row_groups = ceil_div(rows, side_by_side);
  const uint32_t depth = log2_ceil(static_cast<uint32_t>(std::min<uint64_t>(row, lanes)));
  const uint64_t reductions = cost.trees > 0 || cost.per_row > 0 ? row_groups : 0;
  return cost.latency + cost.passes * sweeps + reductions +
         (rows > 0 ? cost.trees * depth + cost.per_row : 0);
}

DType vector_out_dtype(const VectorOp& op) {
  return op.out_dtype() == DTYPE_UNSPECIFIED ? op.dtype() : op.out_dtype();
}

uint64_t vector_spm_bytes(const VectorOp& op, const VectorCost& cost) {
  const uint64_t len = op.length();
  const uint64_t row = op.row_length() != 0 ? op.row_length() : len;
  const uint64_t rows = row == 0 ? 0 : ceil_div(len, row);
  const uint64_t inputs = op.kind() == FILL ? 0 : op.spm_in2() != 0 ? 2 : 1;
  const uint64_t state = op.kind() == ONLINE_SOFTMAX                          ? 5 * rows
                         : op.kind() == ROW_SCALE_ADD || op.kind() == ROW_DIV ? rows
                                                                              : 0;
  return dtype_bytes(op.dtype(), inputs * len) +
         dtype_bytes(vector_out_dtype(op), cost.reduces_rows ? rows : len) +
         dtype_bytes(FP32, state);
}

}  // namespace npusim::arch

// Sizes of the ISA's element types.
#pragma once

#include <cstdint>
#include <string>

#include "arch/isa.pb.h"

namespace npusim {

// Bits per element; 0 for DTYPE_UNSPECIFIED.
[[nodiscard]] inline uint32_t dtype_bits(DType dtype) {
  switch (dtype) {
    case FP32:
      return 32;
    case FP16:
    case BF16:
      return 16;
    case FP8:
    case INT8:
      return 8;
    case INT4:
      return 4;
    default:
      return 0;
  }
}

// Bytes of `elements` elements, rounded up to whole bytes.
[[nodiscard]] inline uint64_t dtype_bytes(DType dtype, uint64_t elements) {
  return (elements * dtype_bits(dtype) + 7) / 8;
}

// A matrix tile's operand types: A's, and the one its arrays compute in (the
// wider of A's and B's).
[[nodiscard]] inline DType a_dtype(const MatrixOp& op) {
  return op.a_dtype() == DTYPE_UNSPECIFIED ? op.dtype() : op.a_dtype();
}
[[nodiscard]] inline DType compute_dtype(const MatrixOp& op) {
  return dtype_bits(a_dtype(op)) > dtype_bits(op.dtype()) ? a_dtype(op) : op.dtype();
}

}  // namespace npusim

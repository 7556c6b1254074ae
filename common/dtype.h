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

}  // namespace npusim

// Element values in the ISA's types, as functional mode stores them in
// memory and the scratchpad: FP32 (IEEE binary32), FP16 (IEEE binary16),
// BF16 (bfloat16), INT8 (two's complement) and INT4 (two's complement, two
// per byte, the element at the even index in the low nibble), little-endian.
// Conversions to a narrower float type round to nearest even (Eigen's half
// and bfloat16). FP8 has no functional semantics yet: UserError.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/isa.pb.h"

namespace npusim {

// Decodes the `count` elements of `dtype` at `bytes` into `out[0 .. count)`.
void decode_elements(DType dtype, const uint8_t* bytes, uint64_t count, float* out);
// Encodes `count` values as `dtype` into `bytes` (INT4: an odd count keeps
// the high nibble of the last byte).
void encode_elements(DType dtype, const float* values, uint64_t count, uint8_t* bytes);
// The value `dtype` stores for `x` (rounded, and for integers saturated).
[[nodiscard]] float round_to(DType dtype, float x);
// round_to for each of `count` values, in place.
void round_elements(DType dtype, float* values, uint64_t count);
// Throws UserError naming `what` when functional mode has no semantics for
// `dtype`.
void require_functional_dtype(DType dtype, const std::string& what);

}  // namespace npusim

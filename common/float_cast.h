// Converting computed doubles (times in ps, cycle counts) to integers. A
// double outside the integer's range, or NaN, makes static_cast undefined
// behaviour (UBSan: float-cast-overflow); test it first.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

namespace npusim {

// Whether static_cast<Int>(value) is defined: `value` truncated toward zero
// fits in Int (and is not NaN).
template <typename Int>
[[nodiscard]] bool fits_in(double value) {
  static_assert(std::is_integral_v<Int>);
  using limits = std::numeric_limits<Int>;
  // Exact bounds: 2^digits is the first value past the top; below, an
  // unsigned type takes anything above -1, a signed one down to -2^digits.
  const double top = std::ldexp(1.0, limits::digits);
  return limits::is_signed ? value >= -top && value < top : value > -1.0 && value < top;
}

}  // namespace npusim

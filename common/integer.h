// Small integer helpers shared by the models and the compiler.
#pragma once

#include <cstdint>

namespace npusim {

// a / b rounded up (b > 0): the blocks of b that cover a.
[[nodiscard]] constexpr uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// a rounded up to a multiple of b (b > 0).
[[nodiscard]] constexpr uint64_t round_up(uint64_t a, uint64_t b) {
  return ceil_div(a, b) * b;
}

}  // namespace npusim

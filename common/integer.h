// Small integer helpers shared by the models and the compiler.
#pragma once

#include <cstdint>

namespace npusim {

// a / b rounded up (b > 0): the blocks of b that cover a.
[[nodiscard]] constexpr uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace npusim

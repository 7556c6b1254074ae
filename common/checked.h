// Overflow-checked arithmetic for sizes, addresses and counts computed from
// input values: a result that does not fit is reported, never wrapped.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

namespace npusim {

// a * b, or nullopt when it does not fit in 64 bits.
[[nodiscard]] inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// a + b, or nullopt when it does not fit in 64 bits.
[[nodiscard]] inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The product of `dims` (a shape), or nullopt when one is negative or the
// product does not fit in 64 bits. An empty range gives 1.
template <typename Range>
[[nodiscard]] std::optional<uint64_t> checked_product(const Range& dims) {
  uint64_t n = 1;
  for (const auto d : dims) {
    if constexpr (std::is_signed_v<std::decay_t<decltype(d)>>) {
      if (d < 0) return std::nullopt;
    }
    const std::optional<uint64_t> next = checked_mul(n, static_cast<uint64_t>(d));
    if (!next) return std::nullopt;
    n = *next;
  }
  return n;
}

}  // namespace npusim

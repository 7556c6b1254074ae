// The address space a program sees when a system has several memories: each
// memory owns a range of 2^kMemoryAddressBits bytes (1 PiB, the most a
// memory may hold), memory i from i << kMemoryAddressBits, and the
// interconnect routes a request by the bits above. With one memory every
// address is its own.
#pragma once

#include <cstdint>

namespace npusim {

inline constexpr unsigned kMemoryAddressBits = 50;

[[nodiscard]] constexpr uint64_t memory_base(uint32_t memory) {
  return uint64_t{memory} << kMemoryAddressBits;
}
// Which memory an address is in.
[[nodiscard]] constexpr uint32_t memory_of(uint64_t address) {
  return static_cast<uint32_t>(address >> kMemoryAddressBits);
}
// The address within its memory.
[[nodiscard]] constexpr uint64_t local_address(uint64_t address) {
  return address & (memory_base(1) - 1);
}

}  // namespace npusim

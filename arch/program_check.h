// Checks a Program before it runs: semaphore use, operand fields, every
// scratchpad range against its capacity and every memory range against the
// memory's, all sizes overflow-checked. Throws UserError naming `where`, the
// instruction and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/isa.pb.h"

namespace npusim::arch {

struct CoreLimits {
  uint64_t spm_capacity_bytes = 0;
  uint64_t memory_bytes = 0;  // addresses a DMA may reach (0: the whole 64-bit space)
  // Several memories (common/address_space.h): memory i's capacity (0: its
  // whole range), and the field that sets it, named in errors. Replaces
  // memory_bytes when not empty.
  std::vector<uint64_t> memories;
  std::vector<std::string> memory_fields;
};

struct ProgramFacts {
  uint64_t spm_peak_bytes = 0;  // highest scratchpad byte any instruction touches
};

[[nodiscard]] ProgramFacts check_program(const Program& program, const CoreLimits& limits,
                                         const std::string& where);

}  // namespace npusim::arch

// Checks a Program before it runs: semaphore use, operand fields, and every
// scratchpad range against the capacity. Throws UserError naming `where`, the
// instruction and the field.
#pragma once

#include <cstdint>
#include <string>

#include "arch/isa.pb.h"

namespace npusim::arch {

struct CoreLimits {
  uint64_t spm_capacity_bytes = 0;
};

struct ProgramFacts {
  uint64_t spm_peak_bytes = 0;  // highest scratchpad byte any instruction touches
};

[[nodiscard]] ProgramFacts check_program(const Program& program, const CoreLimits& limits,
                                         const std::string& where);

}  // namespace npusim::arch

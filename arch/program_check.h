// Checks a Program before it runs: semaphore use, operand fields, every
// scratchpad range against its capacity and every memory range against the
// memory's, all sizes overflow-checked. Throws UserError naming `where`, the
// instruction and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/isa.pb.h"
#include "memory/pim/pim_layout.h"

namespace npusim::arch {

struct CoreLimits {
  uint64_t spm_capacity_bytes = 0;
  uint64_t memory_bytes = 0;  // addresses a DMA may reach (0: the whole 64-bit space)
  // Several memories (common/address_space.h): memory i's capacity (0: its
  // whole range), and the field that sets it, named in errors. Replaces
  // memory_bytes when not empty.
  std::vector<uint64_t> memories;
  std::vector<std::string> memory_fields;
  // Per memory (index 0 for the one memory): its PIM geometry (memory/pim/
  // pim_layout.h), none when it is not a PIM memory; a PIM instruction must
  // address a PIM memory, at a stripe, with its region inside the capacity.
  std::vector<std::optional<memory::pim::PimGeometry>> pim;
  std::vector<std::string> memory_names;  // per memory, named in errors (empty: "memory")
};

struct ProgramFacts {
  uint64_t spm_peak_bytes = 0;  // highest scratchpad byte any instruction touches
};

[[nodiscard]] ProgramFacts check_program(const Program& program, const CoreLimits& limits,
                                         const std::string& where);

}  // namespace npusim::arch

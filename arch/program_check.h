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

// One memory of the system (common/address_space.h: memory i's addresses
// start at i << 50): what a DMA or PIM instruction may reach there.
struct MemoryLimit {
  uint64_t capacity_bytes = 0;                  // 0: its whole range
  std::string field = "memory.capacity_bytes";  // what sets it, named in errors
  std::string name = "memory";
  // Its PIM geometry (memory/pim/pim_layout.h) when it computes: a PIM
  // instruction must address a PIM memory, at a stripe, its region inside.
  std::optional<memory::pim::PimGeometry> pim;
};

struct CoreLimits {
  uint64_t spm_capacity_bytes = 0;                   // each core's
  std::vector<MemoryLimit> memories{MemoryLimit{}};  // memory i's; at least one
  uint32_t cores = 1;                                // the system's (sim/system.proto Topology)
};

struct ProgramFacts {
  uint64_t spm_peak_bytes = 0;  // highest scratchpad byte any instruction touches
};

[[nodiscard]] ProgramFacts check_program(const Program& program, const CoreLimits& limits,
                                         const std::string& where);

}  // namespace npusim::arch

// The memories of a system: `memory` (one) or `memories` (several, nearest
// first), each with the path that names it in the system file and in
// errors, and its index, which is also its address range (common/
// address_space.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/passes/placement.h"
#include "memory/pim/pim_spec.h"
#include "sim/system.pb.h"

namespace npusim::sim {

struct MemoryRef {
  const MemoryConfig* config;
  std::string path;  // "memory" or "memories[1]"
  uint32_t index;
};

[[nodiscard]] std::vector<MemoryRef> memories(const System& system);
// Whether requests pass through the interconnect: several memories, or one
// behind a link.
[[nodiscard]] bool has_interconnect(const System& system);

// What a memory is, for reports: its DRAM or PIM preset, or its model's name.
[[nodiscard]] std::string memory_model_name(const MemoryConfig& memory);

// A memory's peak bandwidth as the NPU sees it, GB/s: its own, or its
// link's per direction when that is less.
[[nodiscard]] double reachable_peak_gbps(const MemoryConfig& memory);
// Its read-latency estimate for a short request, through its link (both
// ways) if it has one, ns.
[[nodiscard]] double reachable_read_latency_ns(const MemoryConfig& memory);
// The same as a core sees them: through its port into the chip network
// too (topology.core_port, both ways), when it has one.
[[nodiscard]] double core_peak_gbps(const System& system, const MemoryConfig& memory);
[[nodiscard]] double core_read_latency_ns(const System& system, const MemoryConfig& memory);

// Its PIM spec (memory/pim/pim_spec.h) when it is a PIM memory; `where`
// (the system file) is named in errors.
[[nodiscard]] std::optional<memory::pim::PimSpec> pim_spec_of(const MemoryRef& memory,
                                                              const std::string& where);

// The compiler's placement options for the system's memories and its
// placement rules; `where` (the system file) is named in errors.
[[nodiscard]] compiler::PlacementOptions placement_options(const System& system,
                                                           const std::string& where);

// Parses a --place rule, "CLASSES[@FIRST-LAST]=MEMORY[,MEMORY...]" (CLASSES:
// weights, kv_cache, activations, experts or all, joined by '+'; the layers
// inclusive), into a rule for System.placement. UserError on bad text.
[[nodiscard]] PlacementRule parse_place_rule(const std::string& text);

}  // namespace npusim::sim

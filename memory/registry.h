// Registry of memory models, keyed by the name of their field in the
// MemoryConfig `model` oneof. A model registers itself from its own file:
//
//   NPUSIM_REGISTER_MEMORY(ideal, (MemoryModelEntry{validate, create, peak, capacity, latency}));
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "memory/memory.pb.h"
#include "memory/memory_model.h"

namespace npusim::memory {

struct MemoryModelEntry {
  // Throws UserError naming `where` and the field path below `path`.
  std::function<void(const MemoryConfig&, const std::string& where, const std::string& path)>
      validate;
  std::function<std::unique_ptr<MemoryModel>(const sc_core::sc_module_name&, const MemoryConfig&)>
      create;
  std::function<double(const MemoryConfig&)> peak_bandwidth_gbps;
  // Bytes the compiler may place (0: unlimited).
  std::function<uint64_t(const MemoryConfig&)> capacity_bytes;
  // Latency a read of a stream of short requests sees, ns (an estimate):
  // with the DMA's outstanding requests it bounds the bandwidth such a
  // stream can reach (Little's law), which the compiler's tiling weighs.
  std::function<double(const MemoryConfig&)> read_latency_ns;
  // How the memory spreads an address range: over `channels` that serve
  // requests independently, every `granule_bytes` (0: one shared bus). The
  // compiler's stream model queues requests at the channels.
  struct Interleave {
    uint32_t channels = 1;
    uint64_t granule_bytes = 0;
  };
  std::function<Interleave(const MemoryConfig&)> interleave = [](const MemoryConfig&) {
    return Interleave{};
  };
};

class MemoryRegistry {
 public:
  static bool add(const std::string& name, MemoryModelEntry entry);
  [[nodiscard]] static std::vector<std::string> names();

  // The entry for the model `config` selects; UserError if none is set.
  [[nodiscard]] static const MemoryModelEntry& lookup(const MemoryConfig& config,
                                                      const std::string& where,
                                                      const std::string& path);
};

}  // namespace npusim::memory

#define NPUSIM_REGISTER_MEMORY(NAME, ENTRY)                            \
  [[maybe_unused]] static const bool npusim_memory_registered_##NAME = \
      ::npusim::memory::MemoryRegistry::add(#NAME, ENTRY)

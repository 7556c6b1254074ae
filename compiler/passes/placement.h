// Placement: gives every tensor of the graph an address in memory, aligned,
// in graph order; a graph that does not fit the memory's capacity is an error
// that says by how much.
#pragma once

#include <cstdint>
#include <string>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

struct PlacementOptions {
  uint64_t capacity_bytes = 0;  // 0: unlimited
  uint64_t alignment = 4096;
  std::string capacity_field = "memory.capacity_bytes";  // named in errors
};

// Returns the bytes used (the end of the last tensor).
uint64_t place(Graph& graph, const PlacementOptions& options);

}  // namespace npusim::compiler

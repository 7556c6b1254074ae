// The compiler driver: graph -> placed graph -> program, with every stage
// available for inspection (npusim compile --emit=graph|placed|tiled|isa).
#pragma once

#include "compiler/graph.pb.h"
#include "compiler/lowering/lowering.h"
#include "compiler/passes/placement.h"

namespace npusim::compiler {

// Lowers a placed graph (every tensor has an address) to a program. With
// `tiled`, also returns the graph with each node's lowering decisions (tile
// sizes, orientation, loop order) as attributes.
[[nodiscard]] Program lower(const Graph& graph, const Target& target, Graph* tiled = nullptr);

// One program of N cores from N programs of one core each, program c for
// core c (Target.core): the semaphores between cores (kSharedSemaphore
// on) first, each from the program that defines it, then each core's own;
// the tensors and nodes of all, one entry each for the same tensor at the
// same address or the same node. std::logic_error when a program names a
// semaphore no program defines.
[[nodiscard]] Program merge_core_programs(std::vector<Program> programs);

}  // namespace npusim::compiler

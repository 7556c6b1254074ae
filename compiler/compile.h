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

// One program of N cores from N programs of one core each, program r for
// core r, all built with the same ring of cores 0 .. N - 1 (Target.ring):
// the ring's first `ring_semaphores` semaphores once (the same in each),
// then each core's own, renumbered; the tensors and nodes are the first
// program's (std::logic_error unless every program has the same).
[[nodiscard]] Program merge_core_programs(std::vector<Program> programs, uint32_t ring_semaphores);

}  // namespace npusim::compiler

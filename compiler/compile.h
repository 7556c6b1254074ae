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

}  // namespace npusim::compiler

// The compiler driver: graph -> placed graph -> program, with every stage
// available for inspection (npusim compile --emit=graph|placed|isa).
#pragma once

#include "compiler/graph.pb.h"
#include "compiler/lowering/lowering.h"
#include "compiler/passes/placement.h"

namespace npusim::compiler {

// Lowers a placed graph (every tensor has an address) to a program.
[[nodiscard]] Program lower(const Graph& graph, const Target& target);

}  // namespace npusim::compiler

// An offloaded MATMUL (attrs pim = 1, compiler/passes/pim_offload.h) lowered
// to PIM GEMVs (isa.proto PimOp) on the DMA queue.
#pragma once

#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

// out[.., rows, N] = in[.., rows, K] x weight[K, N] with the weight in a
// PIM region at its address: the rows go in groups of as many as a
// scratchpad slot holds inputs and results for; per group, a load of the
// inputs, one GEMV, a store of the results (the activations around it go
// through memory, never forwarded on chip).
void lower_pim_matmul(const Node& node, LoweringContext& ctx);

}  // namespace npusim::compiler

// PIM offload: decides, per MATMUL, whether a memory whose banks compute
// (memory/pim) runs it as a GEMV next to its weights, or the NPU streams the
// weights in and multiplies them. Run before placement: an offloaded MATMUL's
// weight is pinned to the PIM memory with the PIM region's size and stripe
// alignment (graph.proto Tensor.pin_memory, alignment, placed_bytes), and
// its node says so (attrs pim = 1), which the MATMUL lowering turns into PIM
// instructions (isa.proto PimOp).
//
// Eligible: a MATMUL of an FP16 or BF16 weight [K, N] stored as such (not
// transposed, not quantised, read by this node only), its input and output
// in the same type, with few rows (tokens x batch, decode's GEMVs) whose
// inputs (K) and results (N) each fit a scratchpad slot the lowering moves
// them through.
//
// Cost model, both in ns, on every eligible node (attrs pim.ns, npu.ns):
//   NPU: the GEMM tiling's estimate (compiler/lowering/gemm.h: the weights
//        streamed at the memory's rate, Target::stream_bytes_per_cycle, or
//        the arrays' compute, whichever is longer, per tile) + a memory
//        latency;
//   PIM: the GEMV's first-order time (memory/pim/pim_cost.h) + the inputs
//        and results through the scratchpad port + three memory latencies
//        (the input's load, the GEMV's request, the result's store: the
//        activations around a GEMV go through memory).
// `auto` offloads when PIM is faster by 10% (the NPU's weight prefetch,
// which a channel in PIM mode stalls, would overlap the GEMV); `on` every
// eligible MATMUL; `off` none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "compiler/graph.pb.h"
#include "compiler/lowering/lowering.h"

namespace npusim::compiler {

enum class PimMode : uint8_t { Auto, On, Off };

// "auto", "on", "off"; UserError naming `flag` otherwise.
[[nodiscard]] PimMode parse_pim_mode(const std::string& text, const std::string& flag);

// The two estimates for a GEMV of `rows` vectors of K by a K x N weight.
struct PimEstimate {
  double pim_ns = 0, npu_ns = 0;
};
[[nodiscard]] PimEstimate estimate_pim(const Target& target, uint32_t pim_memory, uint64_t rows,
                                       uint64_t k, uint64_t n);

// The first memory of `target` that computes, if any.
[[nodiscard]] std::optional<uint32_t> pim_memory(const Target& target);

// Marks the MATMULs to offload; returns how many. UserError with `On` when
// the target has no PIM memory.
uint32_t offload_to_pim(Graph& graph, const Target& target, PimMode mode);

}  // namespace npusim::compiler

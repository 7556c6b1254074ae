// PIM offload: decides, per MATMUL and per decode attention GEMV, whether a
// memory whose banks compute (memory/pim) runs it next to its weights (or
// KV cache), or the NPU streams them in and multiplies. Run before
// placement: an offloaded node's weight or cache is pinned to the PIM memory
// with its PIM layout (graph.proto Tensor.pim: a weight is one N x K matrix,
// a KV cache one block per sequence and KV head), the region's size and the
// stripe alignment (Tensor.pin_memory, alignment, placed_bytes); its node
// says so (attrs pim = 1), which the lowering turns into PIM instructions
// (isa.proto PimOp), and appends to an offloaded cache write through the
// layout (DmaOp.pim).
//
// Eligible: a MATMUL of an FP16 or BF16 weight [K, N] stored as such (not
// transposed, not quantised, read by this node only), its input and output
// in the same type, whose inputs (K) and results (N) each fit a scratchpad
// slot; a decode (one new token) ATTENTION_SCORE or ATTENTION_CONTEXT over
// an FP16 or BF16 cache only it reads (and appends write), whose KV head's
// `group` query rows of inputs and results fit a slot. Otherwise attrs
// pim.skip says why.
//
// Cost model, both in ns, on every eligible node (attrs pim.ns, npu.ns):
//   NPU: the GEMM tiling's estimate (compiler/lowering/gemm.h: the weights
//        streamed at the memory's rate, Target::stream_bytes_per_cycle, or
//        the arrays' compute, whichever is longer, per tile) + a memory
//        latency;
//   PIM: the GEMVs' first-order time (memory/pim/pim_cost.h) per request
//        the lowering issues (a load of inputs, the GEMVs, a store), the
//        requests serialised as far as their loads reach channels in PIM
//        mode, + the inputs and results through the scratchpad port + the
//        memory latencies (pim_offload.cpp: estimate()).
// `auto` offloads when PIM is faster by 10% (the NPU's weight prefetch,
// which a channel in PIM mode stalls, would overlap the GEMV); `on` every
// eligible node; `off` none.
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

// Marks the nodes to offload; returns how many. UserError with `On` when
// the target has no PIM memory.
uint32_t offload_to_pim(Graph& graph, const Target& target, PimMode mode);

}  // namespace npusim::compiler

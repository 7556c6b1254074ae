// Activation forwarding: an activation that one op produces and the next
// ops consume stays in the scratchpad between them instead of making a
// round trip through DRAM (a store, then a load behind it). In LLM decode
// these tensors are a few KiB, but the chain through DRAM (matmul output ->
// residual add -> norm -> next matmul) costs a memory latency per hop while
// the weight stream waits for it.
//
// Each lowering declares which operands it can read from, or leave in, an
// on-chip buffer (LoweringRegistry::add's OnChipOperands). Before lowering,
// the OnChip constructor picks the tensors to forward: an activation whose
// producer can leave it on chip, every consumer of which reads it on chip
// on one queue, and that fits a slot of the ring for that (producer,
// consumer) queue pair while no more of that ring's tensors are live at
// once than it has slots.
// Everything else goes through DRAM as before. A forwarded tensor is never
// written to DRAM: its bytes are not in the report's traffic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/graph.pb.h"
#include "compiler/graph_util.h"
#include "compiler/program_builder.h"

namespace npusim::compiler {

// Which operands of a node the node's lowering can take from, or leave in,
// an on-chip buffer, and the queue that reads and writes them.
struct OnChipOperands {
  Queue queue = QUEUE_UNSPECIFIED;
  uint32_t inputs = 0;  // bit i: input i
  bool output = false;
};

// A forwarded tensor's buffer; elements are `element_bytes` each (fp32
// accumulators when a matrix produced it, else the tensor's dtype).
struct OnChipTensor {
  Buffer buffer;
  uint64_t element_bytes = 0;
  // The buffer from element `e` on.
  [[nodiscard]] Buffer at(uint64_t e) const { return buffer.at(e * element_bytes); }
  // The part of the tensor from element `e` on.
  [[nodiscard]] OnChipTensor from(uint64_t e) const { return {at(e), element_bytes}; }
};

class OnChip {
 public:
  // Rings to plan with: a sixteenth of a scratchpad of `capacity_bytes`,
  // four slots per ring.
  [[nodiscard]] static OnChipRings room(uint64_t capacity_bytes);

  // The forwarding plan for `graph` with the rings of `layout`.
  OnChip(const Graph& graph, const TensorIndex& tensors, const SpmLayout& layout);

  // The rings the plan uses: per ring, its largest tensor's bytes times the
  // most tensors live at once (none for a ring it does not use).
  [[nodiscard]] const OnChipRings& rings() const { return rings_; }
  // Tensors the plan forwards, by name.
  [[nodiscard]] std::vector<std::string> forwarded() const;

  // For the producer of `tensor`: a pinned buffer to leave it in, when the
  // plan forwards it (the producer then does not store it).
  [[nodiscard]] std::optional<OnChipTensor> output(const Tensor& tensor, ProgramBuilder& builder);
  // For a consumer: where `tensor` is on chip, when it is.
  [[nodiscard]] std::optional<OnChipTensor> input(const Tensor& tensor) const;
  // After node `node` (its index in the graph) is lowered: frees the
  // buffers of the tensors it was the last to read.
  void lowered(int node, ProgramBuilder& builder);

 private:
  struct Plan {
    Ring ring;
    int last_reader;
    uint64_t element_bytes;
  };
  std::unordered_map<std::string, Plan> plan_;
  OnChipRings rings_{};
  std::unordered_map<std::string, OnChipTensor> live_;
};

}  // namespace npusim::compiler

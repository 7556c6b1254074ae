// Pipeline parallelism (GPipe's forward pass, as decode and prefill run
// it): a model's decoder layers in consecutive groups, one per stage of
// chips, and the batch in micro-batches that flow through the stages one
// after another, so that stage s works on micro-batch m while stage s + 1
// works on m - 1. With P balanced stages and M micro-batches each stage
// idles for (P - 1) of the M + P - 1 steps: the bubble.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

// M copies of `graph`, one per micro-batch, one after another: copy m > 0
// names its tensors (but the parameters, which all copies share) and
// nodes "mb<m>." + the name.
[[nodiscard]] Graph replicate_micro_batches(const Graph& graph, uint32_t micro_batches);

// The graph of each of `stages` stages. The graph's parts, in order, are
// what comes before the decoder layers (the embedding), each layer
// (Tensor.layer), and what comes after them (the final norm, the LM head);
// each stage takes consecutive parts, cut so that the most bytes a stage
// keeps in memory (weights and KV cache) are as few as the order allows:
// equal layers are shared out evenly, and with as many stages as parts
// the embedding and the LM head have stages of their own (as SRAM-only
// chips need). A tensor a stage reads from the one before arrives by a
// PIPE_RECV before its first reader, sent by a PIPE_SEND right after its
// producer. UserError naming `flag` when the graph has fewer parts than
// stages, or tensors without their layer.
[[nodiscard]] std::vector<Graph> split_stages(const Graph& graph, uint32_t stages,
                                              const std::string& flag = "--pp");

}  // namespace npusim::compiler

// Tensor parallelism as Megatron-LM does it: the graph each of N cores runs
// when every core holds 1/N of the model.
//
// A matmul whose weight is a parameter is split by columns (each core
// computes N / ranks of the outputs) when every op reading its output can
// work on its share: ops on whole heads (RoPE, the KV cache's append,
// attention), elementwise ops, and a matmul after them, which is split by
// rows (each core sums over its share of K). A row-split matmul leaves
// partial sums; an ALL_REDUCE node sums them over the cores before any op
// that needs the whole tensor (a norm, a residual add, the graph's output).
// Attention runs on each core's heads against its share of the KV heads'
// caches. An LM head is split by columns, each core computing the logits
// of its share of the vocabulary (the graph's output, left split). The
// embedding is split by vocabulary too: each core looks up the tokens in
// its block of the table, zeros for the rest, and an all-reduce sums them.
// Everything else runs whole on every core: a table tied to the LM head
// (and that head), the norms, a router. A
// decoder layer thus takes one all-reduce after its attention block (Q, K,
// V by columns, O by rows) and one after its MLP (gate and up by columns,
// down by rows); an MoE layer's experts are split alike and summed once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

struct TensorSharding {
  uint32_t ranks = 1;
  // Each tensor of the core's graph that holds one part of a tensor of
  // the full graph: the axis it is cut along into `ranks` equal parts, core
  // r holding the r-th. Tensors not listed are whole on every core, or
  // partial sums (named "<tensor>.partial"), which the full graph lacks.
  std::map<std::string, int> split_axis;
};

struct ShardedGraph {
  Graph graph;  // what every core runs, unplaced
  TensorSharding sharding;
};

// UserError naming `flag` when `ranks` does not divide what it must split:
// attention heads, KV heads, a split matmul's columns or rows, a quantised
// weight's scale groups.
//
// With `expert_rank` (expert parallelism over the same cores), the graph
// of that core: an MoE layer's experts are not split but spread, expert e
// whole on core e mod N (the tokens are on every core after attention's
// all-reduce, so none move); each core combines its experts' outputs into
// partial sums, and one all-reduce per layer adds them. Cores' graphs then
// differ.
[[nodiscard]] ShardedGraph shard_tensor_parallel(const Graph& full, uint32_t ranks,
                                                 const std::string& flag = "--tp",
                                                 std::optional<uint32_t> expert_rank = {});

// Core `rank`'s part of `values` (the elements of `full`, row-major), cut
// along `axis` into `ranks` parts.
[[nodiscard]] std::vector<float> shard_values(const std::vector<float>& values, const Tensor& full,
                                              int axis, uint32_t rank, uint32_t ranks);
// The elements of `full` from its parts, one per core (the inverse).
[[nodiscard]] std::vector<float> unshard_values(const std::vector<std::vector<float>>& parts,
                                                const Tensor& full, int axis);

}  // namespace npusim::compiler

// Tensor data for functional mode: seeded values for a graph's tensors, and
// tensors written to and read from a memory image at their placed addresses.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/functional.h"
#include "compiler/graph.pb.h"
#include "compiler/reference/reference.h"

namespace npusim::sim {

// Values for `tensor`, the same for the same name and seed on every machine:
// uniform in [low, high), rounded to the tensor's dtype.
[[nodiscard]] std::vector<float> seeded_values(const Tensor& tensor, uint64_t seed, float low,
                                               float high);

// Seeded values for every input of `graph`: the tensors a node reads before
// any produces them (parameters, the layer's input, KV caches) and those no
// node produces, but views (alias_of: their base's values). In [-1, 1), a
// weight's scaled by 1 / sqrt(its rows) so that the layers keep their
// activations' scale; an INT8 or INT4 weight takes every value its type
// holds, and its scales (positive) bring it to that scale.
[[nodiscard]] compiler::TensorValues seeded_inputs(const Graph& graph, uint64_t seed);

// Writes `values` as the tensor's dtype at its address (UserError when
// their count is not the tensor's).
void write_tensor(arch::MemoryImage& image, const Tensor& tensor, const std::vector<float>& values);
// Writes each of `values` to its tensor of `tiled` (the compiled graph with
// the lowering's decisions), a weight in the layout the program reads it in
// (compiler/lowering/weight_packing.h).
void write_inputs(arch::MemoryImage& image, const Graph& tiled,
                  const compiler::TensorValues& values);

[[nodiscard]] std::vector<float> read_tensor(const arch::MemoryImage& image, const Tensor& tensor);

}  // namespace npusim::sim

// Builds decoder layers (norm, Q/K/V/O with grouped-query attention, RoPE or
// learned positions, softmax over a KV cache, a SwiGLU or GELU/ReLU MLP,
// residual adds, optional biases) from a ModelSpec, specialised for one
// step: decode at batch B and KV length L, or prefill of `tokens` tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/frontends/model_spec.h"
#include "compiler/graph.pb.h"

namespace npusim::compiler {

// Named layer shapes of public models ("llama2-7b", ...), for --layer.
[[nodiscard]] const std::vector<ModelSpec>& layer_presets();

// Parses "llama2-7b" or "hidden=4096,heads=32,kv_heads=8,intermediate=14336"
// (head_dim optional); UserError naming `where` on bad input.
[[nodiscard]] ModelSpec parse_layer(const std::string& text, const std::string& where);

// Appends decoder layer number `layer` to `graph`: its input is `input`, its
// output is returned. Tensor and node names are prefixed with `prefix`. An
// MoE layer routes tokens with moe_routing(shape.seed, layer, ...).
std::string add_decoder_layer(Graph& graph, const ModelSpec& spec, const DecodeShape& shape,
                              const std::string& prefix, const std::string& input,
                              uint64_t layer = 0);

// The most token rows a step may have (batch x new tokens), the longest KV
// cache, and the most tensors a built graph may have.
inline constexpr uint64_t kMaxTokenRows = uint64_t{1} << 20;
inline constexpr uint64_t kMaxKvLen = uint64_t{1} << 24;
inline constexpr uint64_t kMaxGraphTensors = uint64_t{1} << 20;

// UserError naming the flag or field unless `layers` layers of `spec` can be
// built for `shape`: at least one sequence, token and layer, a KV length
// that holds the new tokens, and the limits above. `from_flag`: the layer
// count is --layers', not the model's own.
void check_buildable(const ModelSpec& spec, const DecodeShape& shape, uint64_t layers,
                     bool from_flag);

// A graph of `layers` decoder layers (no embedding or LM head).
[[nodiscard]] Graph build_decoder_layers(const ModelSpec& spec, const DecodeShape& shape,
                                         uint32_t layers);

}  // namespace npusim::compiler

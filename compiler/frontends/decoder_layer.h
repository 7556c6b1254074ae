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

// A graph of `layers` decoder layers (no embedding or LM head).
[[nodiscard]] Graph build_decoder_layers(const ModelSpec& spec, const DecodeShape& shape,
                                         uint32_t layers);

}  // namespace npusim::compiler

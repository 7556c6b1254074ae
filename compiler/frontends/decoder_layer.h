// Builds the graph of Llama-style decoder layers (RMSNorm, Q/K/V/O with
// grouped-query attention, RoPE, softmax over a KV cache, SwiGLU MLP,
// residual adds) from their dimensions, specialised for decode at batch B and
// KV length L.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

struct LayerDims {
  std::string name;
  uint64_t hidden = 0;
  uint64_t heads = 0;
  uint64_t kv_heads = 0;
  uint64_t head_dim = 0;  // 0: hidden / heads
  uint64_t intermediate = 0;
};

struct DecodeShape {
  uint64_t batch = 1;
  uint64_t kv_len = 1;  // positions attended to, the new token's included
  DType weight_dtype = FP16;
  DType activation_dtype = FP16;
  DType kv_dtype = FP16;
};

// Named dimensions of public models ("llama2-7b", ...).
[[nodiscard]] const std::vector<LayerDims>& layer_presets();

// Parses "llama2-7b" or "hidden=4096,heads=32,kv_heads=8,intermediate=14336"
// (head_dim optional); UserError naming `where` on bad input.
[[nodiscard]] LayerDims parse_layer(const std::string& text, const std::string& where);

// Appends one decoder layer to `graph`: its input is `input`, its output is
// returned. Tensor names are prefixed with `prefix`.
std::string add_decoder_layer(Graph& graph, const LayerDims& dims, const DecodeShape& shape,
                              const std::string& prefix, const std::string& input);

// A graph of `layers` decoder layers for decode.
[[nodiscard]] Graph build_decoder_layers(const LayerDims& dims, const DecodeShape& shape,
                                         uint32_t layers);

}  // namespace npusim::compiler

// The graph of a whole decoder-only model for one decode step: token
// embedding (and learned positions), the decoder layers, the final norm and
// the LM head.
#pragma once

#include <cstdint>

#include "compiler/frontends/model_spec.h"
#include "compiler/graph.pb.h"

namespace npusim::compiler {

// `layers` limits the decoder layers built (0: all of the model's). UserError
// when the spec cannot be built (MoE, or a KV length past the positions).
[[nodiscard]] Graph build_model(const ModelSpec& spec, const DecodeShape& shape,
                                uint64_t layers = 0);

}  // namespace npusim::compiler

// The graph of a whole decoder-only model for one step (decode, or prefill
// of a prompt): token
// embedding (and learned positions), the decoder layers, the final norm and
// the LM head.
#pragma once

#include <cstdint>

#include "compiler/frontends/model_spec.h"
#include "compiler/graph.pb.h"

namespace npusim::compiler {

// `layers` limits the decoder layers built (0: all of the model's). UserError
// when the spec cannot be built: more layers than the model has, a KV length
// past the model's positions, a step or graph past check_buildable's limits.
[[nodiscard]] Graph build_model(const ModelSpec& spec, const DecodeShape& shape,
                                uint64_t layers = 0);

}  // namespace npusim::compiler

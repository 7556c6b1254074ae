// How MATMUL weights lie in memory. The compiler packs a weight [K, N] in the
// order its tiles are consumed (BLayout::Tiled, compiler/lowering/gemm.h) so
// that each tile is one contiguous transfer: column block n0 (tn columns, or
// fewer for the last) holds its K x tn elements row-major, blocks one after
// the other. The tiled graph records tn on the MATMUL node as
// "weight.packed_tn"; whoever puts the weight in memory (functional mode)
// packs it the same way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

inline constexpr const char* kPackedTnAttr = "weight.packed_tn";

// `kn` (row-major K x N) in column blocks of `tn`.
[[nodiscard]] std::vector<float> pack_weight(const std::vector<float>& kn, uint64_t k, uint64_t n,
                                             uint64_t tn);

// The block width each packed weight of a tiled graph is stored in, by
// tensor name. UserError when two nodes pack one weight differently.
[[nodiscard]] std::map<std::string, uint64_t> packed_weights(const Graph& tiled);

}  // namespace npusim::compiler

// How MATMUL weights lie in memory. The compiler packs a weight [K, N] in the
// order its tiles are consumed (BLayout::Tiled, compiler/lowering/gemm.h) so
// that each tile is one contiguous transfer and the tiles follow one another
// as they are loaded: groups of `group` column blocks of tn columns (the
// last group and block narrower when N is not a multiple), each group K step
// after K step (tk rows, the last fewer), each step its blocks' tk x tn tiles
// one after the other, row-major. One block to a group is column block after
// column block, each K x tn row-major. The tiled graph records the packing on
// the MATMUL node ("weight.packed_tn", "_tk", "_group"); whoever puts the
// weight in memory (functional mode) packs it the same way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

struct LoweringContext;

struct WeightPacking {
  uint64_t tn = 0, tk = 0, group = 1;
  // Where the tile of rows k0.. and columns n0.. of a K x N weight starts,
  // in elements from the weight's first.
  [[nodiscard]] uint64_t tile_offset(uint64_t k, uint64_t n, uint64_t k0, uint64_t n0) const;
  // (With one block to a group the layout does not depend on tk.)
  bool operator==(const WeightPacking& o) const {
    return tn == o.tn && group == o.group && (group == 1 || tk == o.tk);
  }
};

// Records the packing on the node being lowered (LoweringContext::note).
void note_packing(const WeightPacking& packing, LoweringContext& ctx);

// `kn` (row-major K x N) packed.
[[nodiscard]] std::vector<float> pack_weight(const std::vector<float>& kn, uint64_t k, uint64_t n,
                                             const WeightPacking& packing);

// How each packed weight of a tiled graph is stored, by tensor name.
// UserError when two nodes pack one weight differently.
[[nodiscard]] std::map<std::string, WeightPacking> packed_weights(const Graph& tiled);

}  // namespace npusim::compiler

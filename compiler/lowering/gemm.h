// Tiled GEMM lowering shared by MatMul and attention:
//   for each of `batch` problems: out[M x N] = A[M x K] * B[K x N]
// with B (weights or a KV-cache block) streamed through the weight ring, once
// per problem (grouped-query heads sharing a KV block each stream it) and,
// with A's row blocks outermost, once per row block; A kept in the
// scratchpad when it fits (else re-read once per group of column blocks of
// B, visible as activation re-reads); and the outputs of all problems
// collected in one buffer and stored once when they fit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/integer.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/weight_packing.h"

namespace npusim::compiler {

// How B lies in memory.
enum class BLayout {
  KN,     // row-major K x N
  NK,     // row-major N x K (B transposed in memory, e.g. a K cache [L, d])
  Tiled,  // packed by the compiler in the order tiles are consumed
};

struct GemmOperand {
  uint32_t tensor = 0;   // program tensor index
  uint64_t address = 0;  // of element (0, 0) of the first problem
  DType dtype = FP16;
  // A (the activations) or out forwarded on chip (compiler/lowering/on_chip.h):
  // read from, or left in, this buffer (from element (0, 0) of the first
  // problem on) instead of DRAM.
  std::optional<OnChipTensor> on_chip;
};

// Scales of a quantised B (a weight): B's (k, n) stands for b[k, n] *
// scales[k / group, n], the scales row-major [ceil(K / group), N] in memory.
// They travel with the weight tiles, after the tile in its buffer: with
// groups within K, each tile takes the rows of the groups its K rows fall
// in (the arrays dequantise the weights as they enter); with one group (a
// scale per output column) the last tile of each K loop takes one row, and
// the sums are scaled as they leave.
struct GemmScales {
  uint32_t tensor = 0;
  uint64_t address = 0;
  DType dtype = FP16;
  uint64_t group = 0;
  uint64_t k = 0;  // B's rows
  [[nodiscard]] bool per_column() const { return group >= k; }
  // Scale rows a tile of tk rows starting at a multiple of tk takes, at most.
  [[nodiscard]] uint64_t rows_for(uint64_t tk) const {
    if (per_column()) return 1;
    const uint64_t aligned = ceil_div(tk, group);
    return tk % group == 0 || group % tk == 0 ? aligned : aligned + 1;
  }
  // Scale bytes a stream of all of B in tiles of tk rows reads.
  [[nodiscard]] uint64_t streamed_bytes(uint64_t tk, uint64_t n) const {
    return dtype_bytes(dtype, rows_for(tk) * n) * (per_column() ? 1 : ceil_div(k, tk));
  }
};

struct GemmSpec {
  std::string node;  // for errors
  uint64_t batch = 1;
  uint64_t m = 0, k = 0, n = 0;
  // Strides in elements; 0 means the contiguous default.
  GemmOperand a;  // M x K; rows a_row_stride (K) apart, problems a_batch_stride (M * K)
  uint64_t a_row_stride = 0, a_batch_stride = 0;
  // K x N in `b_layout`; problem i uses block i / b_group, blocks b_batch_stride
  // apart (grouped-query attention: b_group query heads share a KV head).
  GemmOperand b;
  BLayout b_layout = BLayout::KN;
  uint64_t b_batch_stride = 0;
  uint64_t b_group = 1;
  std::optional<GemmScales> b_scales;
  GemmOperand out;  // M x N; rows out_row_stride (N) apart, problems out_batch_stride (M * N)
  uint64_t out_row_stride = 0, out_batch_stride = 0;

  [[nodiscard]] uint64_t lda() const { return a_row_stride != 0 ? a_row_stride : k; }
  [[nodiscard]] uint64_t a_step() const { return a_batch_stride != 0 ? a_batch_stride : m * k; }
  [[nodiscard]] uint64_t ldo() const { return out_row_stride != 0 ? out_row_stride : n; }
  [[nodiscard]] uint64_t out_step() const {
    return out_batch_stride != 0 ? out_batch_stride : m * n;
  }
  // A (or out) of all problems is one contiguous block.
  [[nodiscard]] bool a_contiguous() const { return lda() == k && a_step() == m * k; }
  [[nodiscard]] bool out_contiguous() const { return ldo() == n && out_step() == m * n; }
  // Bytes of a weight buffer holding a tk x tn tile of B, with its scales.
  [[nodiscard]] uint64_t b_tile_bytes(uint64_t tk, uint64_t tn) const {
    return dtype_bytes(b.dtype, tk * tn) +
           (b_scales ? dtype_bytes(b_scales->dtype, b_scales->rows_for(tk) * tn) : 0);
  }
};

// The GEMM attention lowers to (ATTENTION_SCORE when `score`, else
// ATTENTION_CONTEXT) for caches of batch x kv_heads blocks of len x d, with
// `group` query heads to a KV head and `tokens` new tokens: strides and
// problems; the caller fills in the operands.
[[nodiscard]] GemmSpec attention_gemm(uint64_t batch, uint64_t kv_heads, uint64_t len, uint64_t d,
                                      uint64_t group, uint64_t tokens, bool score);

struct GemmTiling {
  uint64_t tm = 0, tk = 0, tn = 0;
  bool transposed = false;  // array computes out^T = B^T A^T (m and n swap roles)
  // A stays in the scratchpad for the problems interleaved together: all
  // problems' A in one slot (a_whole), else one slot per tile (a_resident
  // only).
  bool a_resident = false;
  bool a_whole = false;
  // All problems' outputs accumulate in one slot and are stored once.
  bool out_whole = false;
  // Loop order: A's row blocks outermost (each resident while B streams
  // past it; B is read once per row block) instead of B outermost.
  bool rows_outer = false;
  // Column blocks whose K loops interleave: for each K step, their tiles
  // (of every row block, or of the resident one) follow one another. A K
  // loop's tiles sum into one output and run one after another, so the
  // arrays work in parallel only on as many outputs as a group has.
  uint64_t group = 1;
  // Problems of a batch whose K loops interleave the same way (each K step
  // goes through their groups' tiles), so that problems with few outputs
  // (a head's attention in decode) still fill the arrays.
  uint64_t problems = 1;
  // A K loop's partial sums (fp32 tm x tn) to an output slot.
  uint64_t accumulators_per_slot = 1;
  double cost_cycles = 0;  // the cost model's estimate
  // How a weight packed for this tiling lies (BLayout::Tiled).
  [[nodiscard]] WeightPacking packing() const { return {tn, tk, group}; }
};

// Bytes from one K loop's partial sums (fp32 tm x tn) to the next in an
// output slot.
[[nodiscard]] inline uint64_t acc_stride(uint64_t tm, uint64_t tn) {
  return (dtype_bytes(FP32, tm * tn) + 63) / 64 * 64;
}

// choose_gemm_tiling()'s choices, by a key of every field of the spec, the
// target and the layout it reads (Target::tiling_cache_).
struct GemmTilingCache {
  std::map<std::vector<uint64_t>, GemmTiling> chosen;
};

// Chooses tile sizes and orientation for the target; UserError when the
// scratchpad cannot hold the smallest tile. An operand on chip is whole
// there (a_whole, out_whole) and the loop order is B outermost.
[[nodiscard]] GemmTiling choose_gemm_tiling(const GemmSpec& spec, const Target& target,
                                            const SpmLayout& layout);

// Records a tiling on the node being lowered (tile.m, tile.k, tile.n, ...).
// UserError when its estimated cycles do not fit in 63 bits.
void note_tiling(const GemmSpec& spec, const GemmTiling& tiling, LoweringContext& ctx);

// Emits the tiled GEMM into the builder.
void lower_gemm(const GemmSpec& spec, const GemmTiling& tiling, LoweringContext& ctx);

// One tile: out[m x n] (+)= a[m x k] x b[k x n], with a's elements of
// `a_dtype` and b's of `b_dtype` (the arrays compute in the wider).
[[nodiscard]] MatrixOp matrix_tile(uint64_t m, uint64_t k, uint64_t n, DType a_dtype, DType b_dtype,
                                   Dataflow dataflow, const Buffer& a, const Buffer& b,
                                   const Buffer& out);

}  // namespace npusim::compiler

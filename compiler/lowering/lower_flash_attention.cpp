// Fused attention (ATTENTION, flash style). Per sequence, KV head and block
// of query rows (the `group` query heads sharing a KV head stacked, tq rows
// each), the keys and values stream past in blocks of tk positions:
//
//   S   = Q . K_j^T              matrix, into mat_to_vec (fp32)
//   P   = online softmax(S)      vector (ONLINE_SOFTMAX): running row max m
//                                and sum l, alpha = exp(m_old - m), P in fp16
//   O_j = P . V_j                matrix, into mat_to_vec (fp32)
//   O   = O * alpha + O_j        vector (ROW_SCALE_ADD; a copy for j = 0)
//
// then the context rows are O / l (ROW_DIV), stored per head. O, m, l and
// the alphas of even and odd steps (the softmax of step j + 1 runs before
// the merge of step j) share one buffer per block, all fp32. The scores and
// probabilities never leave the chip; only K and V are re-read, once per
// query block. With `causal`, key blocks after a query block's last position
// are skipped (the partly masked ones are computed whole).
#include <fmt/format.h>

#include <algorithm>

#include "common/checked.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/integer.h"
#include "compiler/lowering/gemm.h"
#include "compiler/lowering/lowering.h"
#include "compiler/lowering/on_chip.h"
#include "compiler/lowering/vector_rows.h"

namespace npusim::compiler {
namespace {

constexpr uint64_t kMaxRows = 256;  // rows of a block (see tiling_of)

struct FlashShape {
  uint64_t batch, kv_heads, len, d, heads, group, tokens;
  bool causal;
  float scale;  // of the scores before the softmax
};

struct FlashTiling {
  uint64_t tq;      // query rows per head in a block
  uint64_t tk;      // key positions per block
  uint64_t rows;    // group x tq: the rows of one block's tiles
  uint64_t chains;  // blocks of query rows in flight at once, on as many arrays
};

FlashShape shape_of(const Node& node, const TensorIndex& tensors) {
  const std::string where = "node '" + node.name() + "'";
  require(node.inputs_size() == 3 && node.outputs_size() == 1, "graph", where,
          "fused attention takes (q, K cache, V cache) and gives one output");
  const Tensor& k = tensors.at(node.inputs(1), node.name());
  const Tensor& v = tensors.at(node.inputs(2), node.name());
  const auto [batch, kv_heads, len, d] = cache_shape(k, node.name());
  const CacheShape vs = cache_shape(v, node.name());
  require(vs.batch == batch && vs.kv_heads == kv_heads && vs.len == len && vs.head_dim == d,
          "graph", where, "the K and V caches differ in shape");
  const AttentionShape a = attention_shape(node, {batch, kv_heads, len, d});
  return {batch,
          kv_heads,
          len,
          d,
          a.heads,
          a.group,
          a.tokens,
          attr_int(node, "causal", 0) != 0,
          static_cast<float>(attr_real(node, "scale", 1))};
}

// Ring slots per chain: S and O_j of two steps in mat_to_vec (fp32), P of two
// in vec_to_mat, and O with its row state (fp32) of this group of chains and
// the next in vec_to_vec.
constexpr uint32_t kMatToVec = 4, kVecToMat = 2, kVecToVec = 2;
constexpr uint64_t kStateValues = 4;  // fp32 per row after O: m, l, alpha of even and odd steps

// The rings `chains` blocks of `rows` rows keep their intermediates in.
OnChipRings rings_for(const FlashShape& s, uint64_t tk, uint64_t rows, uint64_t chains, DType act) {
  OnChipRings r{};
  const auto set = [&](Ring ring, uint64_t slot_bytes, uint32_t per_chain) {
    r[static_cast<size_t>(ring) - kFirstOnChipRing] = {0, slot_bytes,
                                                       static_cast<uint32_t>(per_chain * chains)};
  };
  set(Ring::MatToVec, rows * 4 * std::max(tk, s.d), kMatToVec);
  set(Ring::VecToMat, rows * dtype_bytes(act, tk), kVecToMat);
  set(Ring::VecToVec, rows * 4 * (s.d + kStateValues), kVecToVec);
  return r;
}

// Whether the rings fit: they share their ring with the forwarded
// activations (compile.cpp adds the slots and takes the larger slot size),
// and together they may take the weight slots the layout can give (all but
// two, in the layout with the largest matrix-output share); these rings
// alone at most an eighth of the scratchpad.
bool rings_fit(const OnChipRings& own, const Target& t) {
  const RingLayout w = default_spm_layout(t.spm_capacity_bytes, t.arrays, 6)[Ring::Weight];
  const OnChipRings room =
      t.forward_activations ? OnChip::room(t.spm_capacity_bytes) : OnChipRings{};
  uint64_t total = 0, alone = 0;
  for (size_t r = 0; r < kOnChipRings; ++r) {
    total += (room[r].slots + own[r].slots) * std::max(room[r].slot_bytes, own[r].slot_bytes);
    alone += own[r].slots * own[r].slot_bytes;
  }
  return alone <= t.spm_capacity_bytes / 8 && w.slots > 2 && total <= (w.slots - 2) * w.slot_bytes;
}

// Rows per block: the most, up to 256, for which one chain's rings fit;
// then as many chains as fit, one per array at most. A block of r rows
// keeps an array busy for about R + C + r cycles of which r are useful,
// while K and V are read again for every block of query rows: 256 measured
// best against 512, 128 and 64 (Llama-2-7B prefill of 2048 tokens on
// npu-hbm3, and on npu-128x128-ideal, where 512 leaves room for 1 chain).
FlashTiling tiling_of(const Node& node, const FlashShape& s, const Target& t, DType act) {
  const uint64_t tk = std::min<uint64_t>(t.array.cols, s.len);
  const SpmLayout l = default_spm_layout(t.spm_capacity_bytes, t.arrays);
  const uint64_t row = dtype_bytes(act, s.d);
  uint64_t rows = std::min({kMaxRows, s.group * s.tokens, l[Ring::MatIn].slot_bytes / row,
                            l[Ring::VecOut].slot_bytes / row});
  rows = rows / s.group * s.group;
  while (rows > s.group && !rings_fit(rings_for(s, tk, rows, 1, act), t)) {
    rows = std::max(s.group, rows / 2 / s.group * s.group);
  }
  require(rows >= s.group && rings_fit(rings_for(s, tk, rows, 1, act), t), t.where,
          "core.scratchpad.capacity_bytes",
          fmt::format("{} bytes is too small for fused attention node '{}': a block of its {} "
                      "query heads sharing a KV head does not fit beside the weights (try "
                      "--attention unfused)",
                      t.spm_capacity_bytes, node.name(), s.group));
  const uint64_t tq = rows / s.group;
  const uint64_t blocks = s.batch * s.kv_heads * ceil_div(s.tokens, tq);
  uint64_t chains = 1;
  while (chains < std::min<uint64_t>(t.arrays, blocks) &&
         rings_fit(rings_for(s, tk, rows, chains + 1, act), t)) {
    ++chains;
  }
  return {tq, tk, rows, chains};
}

OnChipRings rings_of(const Node& node, const TensorIndex& tensors, const Target& target) {
  const FlashShape s = shape_of(node, tensors);
  const DType act = tensors.at(node.inputs(0), node.name()).dtype();
  const FlashTiling t = tiling_of(node, s, target, act);
  return rings_for(s, t.tk, t.rows, t.chains, act);
}

// One block of query rows: the group's heads of sequence `seq` and KV head
// `g`, tokens t0 .. t0 + nt - 1, and what it holds while its keys stream.
struct Chain {
  uint64_t seq, g, t0, nt;
  uint64_t keys;  // key positions it attends to
  Buffer q, o;
  Buffer p[2];  // the probabilities of even and odd steps, for their context tiles
};

void lower_flash_attention(const Node& node, LoweringContext& ctx) {
  const FlashShape s = shape_of(node, ctx.tensors);
  const Tensor& q = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& kc = ctx.tensors.at(node.inputs(1), node.name());
  const Tensor& vc = ctx.tensors.at(node.inputs(2), node.name());
  const Tensor& out = ctx.tensors.at(node.outputs(0), node.name());
  const DType act = q.dtype(), kv = kc.dtype(), od = out.dtype();
  const FlashTiling t = tiling_of(node, s, ctx.target, act);
  ctx.note("flash.tq", static_cast<int64_t>(t.tq));
  ctx.note("flash.tk", static_cast<int64_t>(t.tk));
  ctx.note("flash.chains", static_cast<int64_t>(t.chains));
  ProgramBuilder& b = ctx.builder;
  const uint32_t q_t = ctx.tensor(q), k_t = ctx.tensor(kc), v_t = ctx.tensor(vc),
                 out_t = ctx.tensor(out);
  const uint64_t ld = s.heads * s.d;  // elements between a token's rows of q and of the output
  const uint64_t head_row = dtype_bytes(act, s.d);
  auto cache = [&](const Chain& c) { return (c.seq * s.kv_heads + c.g) * s.len * s.d; };
  // Step j of a chain: its score tile and softmax.
  // Where a block's row state lives in its O buffer: m, l, alpha of step j.
  auto state = [&](const Chain& c) { return c.o.at(s.group * c.nt * 4 * s.d); };
  auto row_values = [&](const Chain& c, uint64_t i) {
    return state(c).at(i * s.group * c.nt * 4).spm_addr;
  };
  auto score = [&](Chain& c, uint64_t k0) {
    const uint64_t nk = std::min(t.tk, c.keys - k0), rows = s.group * c.nt;
    const Buffer kb = b.acquire(Ring::Weight);
    b.load(kb, k_t, kc.address() + dtype_bytes(kv, cache(c) + k0 * s.d), dtype_bytes(kv, nk * s.d));
    const Buffer sb = b.acquire(Ring::MatToVec);
    MatrixOp qk = matrix_tile(rows, s.d, nk, act, kv, ctx.target.dataflow, c.q, kb, sb);
    qk.set_b_col_major(true);  // K_j's rows are the columns of K_j^T
    b.matrix(qk, {c.q, kb}, sb);
    const Buffer& p = c.p[k0 / t.tk % 2] = b.acquire(Ring::VecToMat);
    VectorOp softmax = vector_op(ONLINE_SOFTMAX, rows * nk, FP32, sb, p);
    softmax.set_out_dtype(act);
    softmax.set_row_length(nk);
    softmax.set_scale(s.scale);
    softmax.set_key_offset(k0);
    softmax.set_key_count(s.len);
    if (s.causal) {
      softmax.set_causal_tokens(s.tokens);
      softmax.set_first_row(c.t0);
      softmax.set_row_tokens(c.nt);  // the group's heads stacked, nt rows each
    }
    softmax.set_spm_in3(row_values(c, 0));                   // m, l
    softmax.set_spm_out2(row_values(c, 2 + k0 / t.tk % 2));  // alpha
    // It also writes the row state in O's buffer: the vector queue runs in
    // the order emitted, after the previous block's final division.
    b.vector(softmax, {sb}, p);
  };
  // ... and its context tile, merged into the running output.
  auto context = [&](Chain& c, uint64_t k0) {
    const uint64_t nk = std::min(t.tk, c.keys - k0), rows = s.group * c.nt;
    const Buffer vb = b.acquire(Ring::Weight);
    b.load(vb, v_t, vc.address() + dtype_bytes(kv, cache(c) + k0 * s.d), dtype_bytes(kv, nk * s.d));
    const Buffer ob = b.acquire(Ring::MatToVec);
    const Buffer& p = c.p[k0 / t.tk % 2];
    b.matrix(matrix_tile(rows, nk, s.d, act, kv, ctx.target.dataflow, p, vb, ob), {p, vb}, ob);
    if (k0 == 0) {
      b.vector(vector_op(COPY, rows * s.d, FP32, ob, c.o), {ob}, c.o);
    } else {
      VectorOp merge = vector_op(ROW_SCALE_ADD, rows * s.d, FP32, c.o, c.o);
      merge.set_row_length(s.d);
      merge.set_spm_in2(ob.spm_addr);
      merge.set_spm_in3(row_values(c, 2 + k0 / t.tk % 2));  // this step's alpha
      // Like a matrix tile accumulating into its output: o's writers are
      // the copy and the merges, its reader the final division.
      b.vector(merge, {ob}, c.o);
    }
  };

  // A chain per sequence, KV head and block of query rows, each some
  // instructions: within the program's budget before they are listed.
  const uint64_t blocks = ceil_div(s.tokens, t.tq);
  b.reserve(checked_mul(s.batch * s.kv_heads, blocks).value_or(~uint64_t{0}));
  std::vector<Chain> all;
  for (uint64_t seq = 0; seq < s.batch; ++seq) {
    for (uint64_t g = 0; g < s.kv_heads; ++g) {
      for (uint64_t t0 = 0; t0 < s.tokens; t0 += t.tq) {
        const uint64_t nt = std::min(t.tq, s.tokens - t0);
        // Keys up to the block's last query position (causal), else all.
        const uint64_t keys = s.causal ? s.len - s.tokens + t0 + nt : s.len;
        all.push_back({seq, g, t0, nt, keys, {}, {}, {{}, {}}});
      }
    }
  }
  for (size_t first = 0; first < all.size(); first += t.chains) {
    const size_t end = std::min(all.size(), first + t.chains);
    uint64_t steps = 0;
    for (size_t i = first; i < end; ++i) {
      Chain& c = all[i];
      c.q = b.acquire(Ring::MatIn, /*pinned=*/true);  // the group's heads stacked, nt rows each
      for (uint64_t h = 0; h < s.group; ++h) {
        b.load(c.q.at(h * c.nt * head_row), q_t,
               q.address() +
                   dtype_bytes(act, (c.seq * s.tokens + c.t0) * ld + (c.g * s.group + h) * s.d),
               head_row, c.nt, dtype_bytes(act, ld));
      }
      c.o = b.acquire(Ring::VecToVec, /*pinned=*/true);
      steps = std::max(steps, ceil_div(c.keys, t.tk));
    }
    // Software-pipelined: the chains' scores of step j go to the arrays
    // while the vector unit works on step j - 1's softmaxes.
    for (uint64_t j = 0; j <= steps; ++j) {
      for (size_t i = first; i < end; ++i) {
        if (j * t.tk < all[i].keys) score(all[i], j * t.tk);
      }
      for (size_t i = first; j > 0 && i < end; ++i) {
        if ((j - 1) * t.tk < all[i].keys) context(all[i], (j - 1) * t.tk);
      }
    }
    for (size_t i = first; i < end; ++i) {  // the context rows: O / l, per head to its columns
      const Chain& c = all[i];
      const uint64_t rows = s.group * c.nt;
      const Buffer res = b.acquire(Ring::VecOut);
      VectorOp divide = vector_op(ROW_DIV, rows * s.d, FP32, c.o, res);
      divide.set_out_dtype(od);
      divide.set_row_length(s.d);
      divide.set_spm_in3(row_values(c, 1));  // l
      b.vector(divide, {c.o}, res);
      for (uint64_t h = 0; h < s.group; ++h) {
        b.store(res.at(h * c.nt * dtype_bytes(od, s.d)), out_t,
                out.address() +
                    dtype_bytes(od, (c.seq * s.tokens + c.t0) * ld + (c.g * s.group + h) * s.d),
                dtype_bytes(od, s.d), c.nt, dtype_bytes(od, ld));
      }
      b.unpin(c.o);
      b.unpin(c.q);
    }
  }
}

}  // namespace

NPUSIM_REGISTER_LOWERING_WITH_RINGS(ATTENTION, lower_flash_attention, rings_of);

}  // namespace npusim::compiler

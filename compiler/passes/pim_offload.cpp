#include "compiler/passes/pim_offload.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/error.h"
#include "compiler/graph_util.h"
#include "compiler/lowering/gemm.h"
#include "compiler/lowering/lower_pim.h"

namespace npusim::compiler {
namespace {

// PIM must win by more than the estimates' error to take a GEMV: both are
// within 10% of simulated times (PimOffload tests), so a closer call is
// noise, and what the estimates leave out favours the NPU (a channel in PIM
// mode serves no ordinary access, so the NPU's streaming of later ops'
// weights, which an NPU GEMV overlaps, waits: at batch 6 a Llama-2-7B layer
// whose attention projections went to PIM, each ~5% faster there alone, was
// 2.6% slower). Modelling that lost overlap would replace this margin.
constexpr double kPimMargin = 0.9;

// The scratchpad slot the lowering moves a GEMV's inputs and results
// through (Ring::VecIn), bytes.
uint64_t slot_bytes(const Target& target) {
  return default_spm_layout(target.spm_capacity_bytes, target.arrays)[Ring::VecIn].slot_bytes;
}

// What a node would run in PIM: one GEMV per block of `matrix` (blocks,
// out_rows M, in_cols K) over `vectors` inputs each (attention: a block per
// sequence and KV head, `kv_heads` to a sequence), and the same work as the
// NPU lowering would tile it (`npu`).
struct Candidate {
  const Tensor* weights = nullptr;
  PimMatrix matrix;
  uint64_t vectors = 0;
  uint64_t kv_heads = 1;
  GemmSpec npu;
};

bool fp16(DType t) {
  return t == FP16 || t == BF16;
}

// A MATMUL by a weight [K, N]: N x K, one block, the input's rows.
std::string matmul(const Node& node, const TensorIndex& tensors, const Target& target,
                   const std::map<std::string, int>& readers, Candidate& c) {
  if (node.inputs_size() != 2 || node.outputs_size() != 1) return "a quantised weight";
  if (attr_int(node, "weight_transposed", 0) != 0) return "a transposed weight";
  const Tensor& x = tensors.at(node.inputs(0), node.name());
  const Tensor& w = tensors.at(node.inputs(1), node.name());
  const Tensor& y = tensors.at(node.outputs(0), node.name());
  if (!w.is_parameter() || w.shape_size() != 2 || !w.alias_of().empty()) return "not a weight";
  if (!fp16(w.dtype())) return "not an FP16 or BF16 weight";
  if (x.dtype() != w.dtype() || y.dtype() != w.dtype()) return "activations of another type";
  if (readers.at(w.name()) != 1) return "a weight shared with another node";
  const auto k = static_cast<uint64_t>(w.shape(0)), n = static_cast<uint64_t>(w.shape(1));
  if (pim_vectors_per_request(slot_bytes(target), n, k) == 0) {
    return "a row larger than a scratchpad slot";
  }
  if (last_dim(x) != k) return "a shape mismatch";
  c.weights = &w;
  c.matrix.set_out_rows(static_cast<uint32_t>(n));
  c.matrix.set_in_cols(static_cast<uint32_t>(k));
  c.matrix.set_blocks(1);
  c.vectors = num_elements(x) / k;
  c.npu.m = c.vectors;
  c.npu.k = k;
  c.npu.n = n;
  c.npu.b_layout = BLayout::Tiled;
  return "";
}

// Decode attention's score (q . K^T: the K cache block [L, d] of a sequence
// and KV head is L x d, stored outputs-major) or context (p . V: the V cache
// block is d x L), one block per sequence and KV head, the `group` query
// heads sharing it its vectors.
std::string attention(const Node& node, const TensorIndex& tensors, const Target& target,
                      const std::map<std::string, int>& readers, Candidate& c) {
  const bool score = node.op() == ATTENTION_SCORE;
  if (node.inputs_size() != 2 || node.outputs_size() != 1) return "a shape mismatch";
  const Tensor& in = tensors.at(node.inputs(0), node.name());
  const Tensor& cache = tensors.at(node.inputs(1), node.name());
  const Tensor& out = tensors.at(node.outputs(0), node.name());
  const CacheShape cs = cache_shape(cache, node.name());
  const AttentionShape a = attention_shape(node, cs);
  if (a.tokens != 1) return "not decode (one new token)";
  if (!cache.alias_of().empty()) return "a cache that is a view of another";
  if (!fp16(cache.dtype())) return "not an FP16 or BF16 cache";
  if (in.dtype() != cache.dtype() || out.dtype() != cache.dtype()) {
    return "activations of another type";
  }
  if (readers.at(cache.name()) != 1) return "a cache another node reads";
  const uint64_t m = score ? cs.len : cs.head_dim, k = score ? cs.head_dim : cs.len;
  const uint64_t blocks = cs.batch * cs.kv_heads;
  if (m > UINT32_MAX || k > UINT32_MAX || blocks > UINT32_MAX) return "a cache too large";
  if (pim_heads_per_request(slot_bytes(target), a.group, m, k, cs.kv_heads) == 0) {
    return "a head's scores larger than a scratchpad slot";
  }
  c.weights = &cache;
  c.matrix.set_out_rows(static_cast<uint32_t>(m));
  c.matrix.set_in_cols(static_cast<uint32_t>(k));
  c.matrix.set_blocks(static_cast<uint32_t>(blocks));
  c.matrix.set_outputs_major(score);
  c.vectors = a.group;
  c.npu = attention_gemm(cs.batch, cs.kv_heads, cs.len, cs.head_dim, a.group, 1, score);
  c.npu.a.dtype = in.dtype();
  c.npu.b.dtype = cache.dtype();
  c.npu.out.dtype = out.dtype();
  c.kv_heads = cs.kv_heads;
  return "";
}

// Both estimates for a candidate.
PimEstimate estimate(const Target& target, uint32_t memory, const Candidate& c) {
  Target t = target;
  t.use_memory(memory);
  const memory::pim::PimCost& cost = *target.memories.at(memory).pim;
  const double ns_per_cycle = 1.0 / target.clock_ghz;
  const double latency_ns = t.memory_latency_cycles * ns_per_cycle;
  const uint32_t m = c.matrix.out_rows(), k = c.matrix.in_cols();
  PimEstimate e;
  // The NPU: the GEMM tiling's own estimate (the weights streamed at the
  // memory's rate, or the arrays' compute), plus a memory latency.
  const GemmTiling tiling =
      choose_gemm_tiling(c.npu, t, default_spm_layout(t.spm_capacity_bytes, t.arrays));
  e.npu_ns = tiling.cost_cycles * ns_per_cycle + latency_ns;
  // PIM: the GEMVs as the lowering issues them, in requests (a load of
  // inputs, its GEMVs, a store of results): MATMUL rows as many as a slot
  // holds inputs and results for, one GEMV each; attention a sequence's KV
  // heads as many as a slot holds, one GEMV per head. The activations share
  // the PIM memory (as in every PIM preset) and a channel in PIM mode serves
  // no ordinary read, so a request's load waits for the GEMVs before it on
  // the channels it falls on, and its GEMVs for the load: the requests run
  // one after another, each with a mode switch out and in and two memory
  // latencies (its load's, its GEMV request's), as far as their loads
  // reach. On top: the inputs' and results' bytes through the DMA, and the
  // first request's three latencies (load, GEMV request, store).
  const double port = t.memory_bytes_per_cycle;
  const uint32_t blocks = c.matrix.blocks();
  const uint64_t slot = slot_bytes(target);
  // Requests as block ranges [first, end) (one block: vector ranges).
  std::vector<std::pair<uint64_t, uint64_t>> requests;
  if (blocks > 1) {
    const uint64_t kv_heads = c.kv_heads;
    // (At least one: estimate_pim() is public; eligible nodes fit.)
    const uint64_t per_load =
        std::max<uint64_t>(1, pim_heads_per_request(slot, c.vectors, m, k, kv_heads));
    for (uint64_t b = 0; b < blocks;) {
      const uint64_t end = std::min(b + per_load, (b / kv_heads + 1) * kv_heads);
      requests.emplace_back(b, end);
      b = end;
    }
  } else {
    const uint64_t per_request = std::max<uint64_t>(1, pim_vectors_per_request(slot, m, k));
    for (uint64_t v = 0; v < c.vectors; v += per_request) {
      requests.emplace_back(v, std::min(c.vectors, v + per_request));
    }
  }
  const auto gemvs = [&](size_t from, size_t to) {  // requests [from, to) queued together
    if (blocks > 1) {
      return cost.ns(m, k, static_cast<uint32_t>(c.vectors), blocks,
                     static_cast<uint32_t>(requests[from].first),
                     static_cast<uint32_t>(requests[to - 1].second - requests[from].first));
    }
    double ns = 0;  // one GEMV per request, each its own pass over the rows
    for (size_t r = from; r < to; ++r) {
      ns += cost.ns(m, k, static_cast<uint32_t>(requests[r].second - requests[r].first));
    }
    return ns;
  };
  // A load of B bytes falls on min(channels, B / granule) channels: only
  // those leave PIM mode for it, the GEMVs queued on the others go on. The
  // requests serialise in that proportion f (their load's channels'
  // share): (1 - f) x all queued together + f x one after another.
  const size_t n = requests.size();
  double serial = 0;
  for (size_t r = 0; r < n; ++r) serial += gemvs(r, r + 1) + (r > 0 ? 2 * latency_ns : 0);
  const uint64_t load_bytes =
      (requests[0].second - requests[0].first) * (blocks > 1 ? c.vectors * k : k) * 2;
  const uint64_t granules =
      (load_bytes + t.memory_granule_bytes - 1) / std::max<uint64_t>(1, t.memory_granule_bytes);
  const double f =
      t.memory_granule_bytes == 0
          ? 1.0
          : std::min(1.0, static_cast<double>(granules) / std::max(1u, t.memory_channels));
  e.pim_ns = (1 - f) * gemvs(0, n) + f * serial +
             static_cast<double>(blocks * c.vectors * (uint64_t{k} + m) * 2) / port * ns_per_cycle +
             3 * latency_ns;
  return e;
}

}  // namespace

PimMode parse_pim_mode(const std::string& text, const std::string& flag) {
  if (text == "auto") return PimMode::Auto;
  if (text == "on") return PimMode::On;
  require(text == "off", flag, text, "choices: auto, on, off");
  return PimMode::Off;
}

std::optional<uint32_t> pim_memory(const Target& target) {
  for (size_t m = 0; m < target.memories.size(); ++m) {
    if (target.memories[m].pim) return static_cast<uint32_t>(m);
  }
  return std::nullopt;
}

PimEstimate estimate_pim(const Target& target, uint32_t memory, uint64_t rows, uint64_t k,
                         uint64_t n) {
  Candidate c;
  c.matrix.set_out_rows(static_cast<uint32_t>(n));
  c.matrix.set_in_cols(static_cast<uint32_t>(k));
  c.matrix.set_blocks(1);
  c.vectors = rows;
  c.npu.m = rows;
  c.npu.k = k;
  c.npu.n = n;
  c.npu.b_layout = BLayout::Tiled;
  return estimate(target, memory, c);
}

uint32_t offload_to_pim(Graph& graph, const Target& target, PimMode mode) {
  const std::optional<uint32_t> memory = pim_memory(target);
  if (!memory) {
    require(
        mode != PimMode::On, "--pim", "on",
        fmt::format("{} has no PIM memory (memory.pim) to offload to; use --pim auto or off, or "
                    "a system whose memory computes (e.g. examples/hw/npu-hbm3-pim.textproto)",
                    target.where));
    return 0;
  }
  if (mode == PimMode::Off) return 0;
  const memory::pim::PimCost& cost = *target.memories[*memory].pim;
  // Readers of each tensor, but for the appends that write a cache.
  std::map<std::string, int> readers;
  for (const Node& node : graph.nodes()) {
    if (node.op() == KV_APPEND) continue;
    for (const std::string& in : node.inputs()) ++readers[in];
  }
  const TensorIndex tensors(graph);
  std::map<std::string, PimMatrix> offloaded;  // tensor -> its layout
  uint32_t count = 0;
  for (Node& node : *graph.mutable_nodes()) {
    Candidate c;
    std::string why;
    if (node.op() == MATMUL) {
      why = matmul(node, tensors, target, readers, c);
    } else if (node.op() == ATTENTION_SCORE || node.op() == ATTENTION_CONTEXT) {
      why = attention(node, tensors, target, readers, c);
    } else {
      continue;
    }
    if (!why.empty()) {
      set_attr(node, "pim.skip", why);
      continue;
    }
    const PimEstimate e = estimate(target, *memory, c);
    set_attr_real(node, "pim.ns", e.pim_ns);
    set_attr_real(node, "npu.ns", e.npu_ns);
    const bool pim = mode == PimMode::On || e.pim_ns < kPimMargin * e.npu_ns;
    set_attr(node, "pim", pim ? 1 : 0);
    if (!pim) continue;
    offloaded[c.weights->name()] = c.matrix;
    ++count;
  }
  for (Tensor& t : *graph.mutable_tensors()) {
    auto it = offloaded.find(t.name());
    if (it == offloaded.end()) continue;
    const PimMatrix& p = it->second;
    t.set_pin_memory(*memory);
    t.set_alignment(cost.geometry.stripe_bytes());
    t.set_placed_bytes(
        std::max(t.size_bytes(), cost.region_bytes(p.out_rows(), p.in_cols(), p.blocks())));
    *t.mutable_pim() = p;
  }
  return count;
}

}  // namespace npusim::compiler

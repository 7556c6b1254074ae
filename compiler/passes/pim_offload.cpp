#include "compiler/passes/pim_offload.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/error.h"
#include "compiler/graph_util.h"
#include "compiler/lowering/gemm.h"

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

// Why `node` cannot run in PIM, or "" when it can.
std::string ineligible(const Node& node, const TensorIndex& tensors, const Target& target,
                       const std::map<std::string, int>& readers) {
  if (node.inputs_size() != 2 || node.outputs_size() != 1) return "a quantised weight";
  if (attr_int(node, "weight_transposed", 0) != 0) return "a transposed weight";
  const Tensor& x = tensors.at(node.inputs(0), node.name());
  const Tensor& w = tensors.at(node.inputs(1), node.name());
  const Tensor& y = tensors.at(node.outputs(0), node.name());
  if (!w.is_parameter() || w.shape_size() != 2 || !w.alias_of().empty()) return "not a weight";
  if (w.dtype() != FP16 && w.dtype() != BF16) return "not an FP16 or BF16 weight";
  if (x.dtype() != w.dtype() || y.dtype() != w.dtype()) return "activations of another type";
  if (readers.at(w.name()) != 1) return "a weight shared with another node";
  const auto k = static_cast<uint64_t>(w.shape(0)), n = static_cast<uint64_t>(w.shape(1));
  if (k * 2 > slot_bytes(target) || n * 2 > slot_bytes(target)) {
    return "a row larger than a scratchpad slot";
  }
  if (last_dim(x) != k) return "a shape mismatch";
  return "";
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
  Target t = target;
  t.use_memory(memory);
  const memory::pim::PimCost& cost = *target.memories.at(memory).pim;
  const double ns_per_cycle = 1.0 / target.clock_ghz;
  const double latency_ns = t.memory_latency_cycles * ns_per_cycle;
  PimEstimate e;
  // The NPU: the GEMM tiling's own estimate (weights streamed at the
  // memory's rate, or the arrays' compute), plus a memory latency.
  GemmSpec spec;
  spec.m = rows;
  spec.k = k;
  spec.n = n;
  spec.b_layout = BLayout::Tiled;
  const GemmTiling tiling =
      choose_gemm_tiling(spec, t, default_spm_layout(t.spm_capacity_bytes, t.arrays));
  e.npu_ns = tiling.cost_cycles * ns_per_cycle + latency_ns;
  // PIM: the GEMVs as the lowering splits the vectors (as many as a slot
  // holds inputs and results for), their inputs and results through the DMA.
  const uint64_t per_request = std::max<uint64_t>(1, slot_bytes(target) / (2 * std::max(k, n)));
  const double port = t.memory_bytes_per_cycle;
  for (uint64_t done = 0; done < rows; done += per_request) {
    const uint64_t v = std::min(per_request, rows - done);
    e.pim_ns +=
        cost.ns(static_cast<uint32_t>(n), static_cast<uint32_t>(k), static_cast<uint32_t>(v)) +
        static_cast<double>(v * (k + n) * 2) / port * ns_per_cycle;
  }
  e.pim_ns += 3 * latency_ns;
  return e;
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
  std::map<std::string, int> readers;
  for (const Node& node : graph.nodes()) {
    for (const std::string& in : node.inputs()) ++readers[in];
  }
  const TensorIndex tensors(graph);
  std::map<std::string, std::pair<uint64_t, uint64_t>> offloaded;  // weight -> (K, N)
  uint32_t count = 0;
  for (Node& node : *graph.mutable_nodes()) {
    if (node.op() != MATMUL) continue;
    const std::string why = ineligible(node, tensors, target, readers);
    if (!why.empty()) {
      set_attr(node, "pim.skip", why);
      continue;
    }
    const Tensor& x = tensors.at(node.inputs(0), node.name());
    const Tensor& w = tensors.at(node.inputs(1), node.name());
    const auto k = static_cast<uint64_t>(w.shape(0)), n = static_cast<uint64_t>(w.shape(1));
    const uint64_t rows = num_elements(x) / k;
    const PimEstimate e = estimate_pim(target, *memory, rows, k, n);
    set_attr_real(node, "pim.ns", e.pim_ns);
    set_attr_real(node, "npu.ns", e.npu_ns);
    const bool pim = mode == PimMode::On || e.pim_ns < kPimMargin * e.npu_ns;
    set_attr(node, "pim", pim ? 1 : 0);
    if (!pim) continue;
    offloaded[w.name()] = {k, n};
    ++count;
  }
  for (Tensor& t : *graph.mutable_tensors()) {
    auto it = offloaded.find(t.name());
    if (it == offloaded.end()) continue;
    t.set_pin_memory(*memory);
    t.set_alignment(cost.geometry.stripe_bytes());
    t.set_placed_bytes(
        std::max(t.size_bytes(), cost.region_bytes(static_cast<uint32_t>(it->second.second),
                                                   static_cast<uint32_t>(it->second.first))));
  }
  return count;
}

}  // namespace npusim::compiler

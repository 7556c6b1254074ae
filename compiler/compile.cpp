#include "compiler/compile.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "common/address_space.h"
#include "common/error.h"

namespace npusim::compiler {

namespace {
// The matrix outputs' share of the scratchpad, in sixteenths: the default
// 2, or 6 when some matmul has more rows (prefill tokens, or a large batch)
// than the default's accumulator slot holds for one array-wide tile.
uint64_t out_share(const Graph& graph, const TensorIndex& tensors, const Target& target) {
  const SpmLayout fallback = default_spm_layout(target.spm_capacity_bytes, target.arrays, 2);
  const uint64_t slot_rows = fallback[Ring::MatOut].slot_bytes / (4 * target.array.cols);
  for (const Node& node : graph.nodes()) {
    const bool matmul = node.op() == MATMUL || node.op() == BATCH_MATMUL ||
                        node.op() == ATTENTION_SCORE || node.op() == ATTENTION_CONTEXT;
    if (!matmul || node.inputs_size() == 0) continue;
    const Tensor& a = tensors.at(node.inputs(0), node.name());
    const auto k = last_dim(a);
    const uint64_t rows = node.op() == MATMUL   ? num_elements(a) / k
                          : a.shape_size() >= 2 ? static_cast<uint64_t>(a.shape(a.shape_size() - 2))
                                                : 1;
    if (rows > slot_rows) return 6;
  }
  return 2;
}
}  // namespace

Program lower(const Graph& graph, const Target& target_in, Graph* tiled) {
  TensorIndex tensors(graph);
  for (const Tensor& t : graph.tensors()) {
    if (!t.has_address()) {
      throw UserError("graph: tensor '" + t.name() + "' has no address; run placement first");
    }
  }
  // What other cores send into gets the top of the scratchpad: the
  // pipeline's buffers, and below them the ring's, at most a sixteenth:
  // the largest all-reduce's bytes and a chunk to receive into.
  CorePeers peers;
  peers.core = target_in.core;
  peers.ring = target_in.ring;
  peers.from = target_in.pipe_from;
  peers.to = target_in.pipe_to;
  Target target = target_in;
  for (const Node& node : graph.nodes()) {
    if (node.op() == PIPE_SEND || node.op() == PIPE_RECV) {
      require(node.op() == PIPE_SEND ? target.pipe_to >= 0 : target.pipe_from >= 0, target.where,
              "node '" + node.name() + "'",
              fmt::format("a {} needs a {} core (pipeline parallelism: --pp)",
                          OpType_Name(node.op()), node.op() == PIPE_SEND ? "next" : "previous"));
      peers.pipe_bytes = target.pipe_bytes;
    }
    if (node.op() != ALL_REDUCE) continue;
    require(target.ring.size() >= 2, target.where, "node '" + node.name() + "'",
            "an ALL_REDUCE needs a ring of two or more cores (topology.chips and --tp)");
    const uint64_t bytes = tensors.at(node.inputs(0), node.name()).size_bytes();
    peers.ring_bytes = std::max(peers.ring_bytes, bytes + bytes / target.ring.size() + 128);
  }
  peers.ring_bytes = std::min(peers.ring_bytes, target.spm_capacity_bytes / 16) / 64 * 64;
  if (peers.ring_bytes + peers.pipe_bytes > 0) {
    peers.spm_base = target.spm_capacity_bytes - peers.ring_bytes - 2 * peers.pipe_bytes;
    target.spm_capacity_bytes = peers.spm_base;
  }
  // Activations forwarded between ops: planned with room for them, then
  // the scratchpad is laid out with the rings the plan uses, the rest going
  // to the weights.
  const uint64_t share = out_share(graph, tensors, target);
  OnChip on_chip(
      graph, tensors,
      default_spm_layout(
          target.spm_capacity_bytes, target.arrays, share,
          target.forward_activations ? OnChip::room(target.spm_capacity_bytes) : OnChipRings{}));
  // Lowerings that keep intermediates on chip (fused attention) get slots
  // of their own beside the forwarded activations': the most any node asks.
  OnChipRings own{};
  for (const Node& node : graph.nodes()) {
    const RingsFn* rings = LoweringRegistry::rings(node.op());
    if (rings == nullptr) continue;
    const OnChipRings need = (*rings)(node, tensors, target);
    for (size_t r = 0; r < kOnChipRings; ++r) {
      own[r].slots = std::max(own[r].slots, need[r].slots);
      own[r].slot_bytes = std::max(own[r].slot_bytes, need[r].slot_bytes);
    }
  }
  OnChipRings rings = on_chip.rings();
  for (size_t r = 0; r < kOnChipRings; ++r) {
    if (own[r].slots == 0) continue;
    rings[r].slots += own[r].slots;
    rings[r].slot_bytes = std::max(rings[r].slot_bytes, own[r].slot_bytes);
  }
  ProgramBuilder builder(graph.name(),
                         default_spm_layout(target.spm_capacity_bytes, target.arrays, share, rings),
                         peers);
  builder.set_op_by_op(target.kernel_by_kernel);
  // One target per memory: a node is lowered for the memory that holds most
  // of its input bytes.
  std::vector<Target> by_memory;
  for (size_t m = 0; m < target.memories.size() && target.memories.size() > 1; ++m) {
    by_memory.push_back(target);
    by_memory.back().use_memory(m);
  }
  if (tiled != nullptr) *tiled = graph;
  for (int i = 0; i < graph.nodes_size(); ++i) {
    const Node& node = graph.nodes(i);
    const Target* node_target = &target;
    if (!by_memory.empty()) {
      std::vector<uint64_t> bytes(by_memory.size(), 0);
      for (const std::string& in : node.inputs()) {
        const Tensor& t = tensors.at(in, node.name());
        const uint32_t m = memory_of(t.address());
        if (m < bytes.size()) bytes[m] += t.size_bytes();
      }
      node_target = &by_memory[static_cast<size_t>(std::max_element(bytes.begin(), bytes.end()) -
                                                   bytes.begin())];
    }
    LoweringContext ctx{graph, tensors, *node_target, builder};
    ctx.on_chip = &on_chip;
    ctx.record = tiled != nullptr ? tiled->mutable_nodes(i) : nullptr;
    const LowerFn* fn = LoweringRegistry::find(node.op());
    if (fn == nullptr) {
      throw UserError(fmt::format("graph: node '{}': op {} has no lowering to the NPU", node.name(),
                                  OpType_Name(node.op())));
    }
    builder.set_node(node.name(), OpType_Name(node.op()));
    (*fn)(node, ctx);
    on_chip.lowered(i, builder);
  }
  return builder.finish();
}

Program merge_core_programs(std::vector<Program> programs) {
  if (programs.empty()) throw std::logic_error("merge_core_programs: no programs");
  Program out;
  out.set_name(programs[0].name());
  // The semaphores between cores, each defined by its owner's program.
  std::unordered_map<uint32_t, uint32_t> shared;
  for (const Program& p : programs) {
    for (const Semaphore& sem : p.semaphores()) {
      if (sem.id() < kSharedSemaphore) continue;
      const auto id = static_cast<uint32_t>(out.semaphores_size());
      if (!shared.emplace(sem.id(), id).second) {
        throw std::logic_error(
            fmt::format("merge_core_programs: '{}' is defined twice", sem.name()));
      }
      Semaphore& copy = *out.add_semaphores();
      copy = sem;
      copy.set_id(id);
    }
  }
  // Each core's own semaphores, and the tensors and nodes (one entry for
  // the same tensor at the same address, or the same node, on many cores).
  std::map<std::pair<std::string, uint64_t>, uint32_t> tensors;
  std::unordered_map<std::string, uint32_t> nodes;
  for (size_t c = 0; c < programs.size(); ++c) {
    Program& p = programs[c];
    if (p.cores_size() != 1) throw std::logic_error("merge_core_programs: a program of one core");
    std::unordered_map<uint32_t, uint32_t> own;
    for (const Semaphore& sem : p.semaphores()) {
      if (sem.id() >= kSharedSemaphore) continue;
      own[sem.id()] = static_cast<uint32_t>(out.semaphores_size());
      Semaphore& copy = *out.add_semaphores();
      copy = sem;
      copy.set_id(own[sem.id()]);
      copy.set_core(static_cast<uint32_t>(c));
    }
    std::vector<uint32_t> tensor(static_cast<size_t>(p.tensors_size()));
    for (int t = 0; t < p.tensors_size(); ++t) {
      const TensorRef& ref = p.tensors(t);
      auto [it, added] = tensors.emplace(std::make_pair(ref.name(), ref.dram_addr()),
                                         static_cast<uint32_t>(out.tensors_size()));
      if (added) *out.add_tensors() = ref;
      tensor[static_cast<size_t>(t)] = it->second;
    }
    std::vector<uint32_t> node(static_cast<size_t>(p.nodes_size()));
    for (int n = 0; n < p.nodes_size(); ++n) {
      auto [it, added] = nodes.emplace(p.nodes(n), static_cast<uint32_t>(out.nodes_size()));
      if (added) {
        out.add_nodes(p.nodes(n));
        out.add_node_ops(n < p.node_ops_size() ? p.node_ops(n) : "");
      }
      node[static_cast<size_t>(n)] = it->second;
    }
    const auto sem = [&](SemOp& op) {
      const auto& table = op.sem() >= kSharedSemaphore ? shared : own;
      auto it = table.find(op.sem());
      if (it == table.end()) {
        throw std::logic_error(fmt::format(
            "merge_core_programs: core {} names semaphore {} no core defines", c, op.sem()));
      }
      op.set_sem(it->second);
    };
    CoreProgram& core = *out.add_cores();
    core.Swap(p.mutable_cores(0));
    for (auto* queue : {core.mutable_dma(), core.mutable_matrix(), core.mutable_vector()}) {
      for (Instruction& ins : *queue) {
        for (SemOp& op : *ins.mutable_wait()) sem(op);
        for (SemOp& op : *ins.mutable_signal()) sem(op);
        if (ins.has_dma()) ins.mutable_dma()->set_tensor(tensor[ins.dma().tensor()]);
        if (ins.has_pim()) ins.mutable_pim()->set_tensor(tensor[ins.pim().tensor()]);
        ins.set_node(node[ins.node()]);
      }
    }
  }
  return out;
}

}  // namespace npusim::compiler

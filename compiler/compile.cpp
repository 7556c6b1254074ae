#include "compiler/compile.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

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
  // All-reduces get the top of the scratchpad, at most a sixteenth: the
  // largest one's bytes and a chunk to receive into.
  CoreRing ring{target_in.ring, target_in.rank};
  Target target = target_in;
  for (const Node& node : graph.nodes()) {
    if (node.op() != ALL_REDUCE) continue;
    require(target.ring.size() >= 2, target.where, "node '" + node.name() + "'",
            "an ALL_REDUCE needs a ring of two or more cores (topology.chips and --tp)");
    const uint64_t bytes = tensors.at(node.inputs(0), node.name()).size_bytes();
    ring.spm_bytes = std::max(ring.spm_bytes, bytes + bytes / target.ring.size() + 128);
  }
  if (ring.spm_bytes > 0) {
    ring.spm_bytes = std::min(ring.spm_bytes, target.spm_capacity_bytes / 16) / 64 * 64;
    ring.spm_base = target.spm_capacity_bytes - ring.spm_bytes;
    target.spm_capacity_bytes = ring.spm_base;
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
                         ring);
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

Program merge_core_programs(std::vector<Program> programs, uint32_t ring_semaphores) {
  if (programs.empty()) throw std::logic_error("merge_core_programs: no programs");
  const uint32_t shared = ring_semaphores;
  const auto own = static_cast<uint32_t>(programs[0].semaphores_size()) - shared;
  Program out;
  out.set_name(programs[0].name());
  *out.mutable_tensors() = programs[0].tensors();
  *out.mutable_nodes() = programs[0].nodes();
  *out.mutable_node_ops() = programs[0].node_ops();
  for (uint32_t k = 0; k < shared; ++k)
    *out.add_semaphores() = programs[0].semaphores(static_cast<int>(k));
  for (size_t r = 0; r < programs.size(); ++r) {
    Program& p = programs[r];
    if (p.semaphores_size() != programs[0].semaphores_size() || p.cores_size() != 1 ||
        p.tensors_size() != programs[0].tensors_size() ||
        p.nodes_size() != programs[0].nodes_size()) {
      throw std::logic_error(
          fmt::format("merge_core_programs: core {}'s program is not built like core 0's", r));
    }
    const auto base = static_cast<uint32_t>(shared + r * own);
    for (uint32_t k = shared; k < shared + own; ++k) {
      Semaphore& s = *out.add_semaphores();
      s = p.semaphores(static_cast<int>(k));
      s.set_id(base + k - shared);
      s.set_core(static_cast<uint32_t>(r));
    }
    CoreProgram& core = *out.add_cores();
    core.Swap(p.mutable_cores(0));
    const auto renumber = [&](google::protobuf::RepeatedPtrField<Instruction>* queue) {
      for (Instruction& ins : *queue) {
        for (SemOp& op : *ins.mutable_wait()) {
          if (op.sem() >= shared) op.set_sem(base + op.sem() - shared);
        }
        for (SemOp& op : *ins.mutable_signal()) {
          if (op.sem() >= shared) op.set_sem(base + op.sem() - shared);
        }
      }
    };
    renumber(core.mutable_dma());
    renumber(core.mutable_matrix());
    renumber(core.mutable_vector());
  }
  return out;
}

}  // namespace npusim::compiler

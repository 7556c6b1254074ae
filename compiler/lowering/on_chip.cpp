#include "compiler/lowering/on_chip.h"

#include <algorithm>
#include <map>

#include "common/dtype.h"
#include "common/integer.h"
#include "compiler/lowering/lowering.h"

namespace npusim::compiler {
namespace {

constexpr uint64_t kAlign = 64;  // scratchpad slots start 64-byte aligned

// The ring that carries data from `producer` to `consumer`, if any.
std::optional<Ring> ring_between(Queue producer, Queue consumer) {
  if (producer == MATRIX && consumer == MATRIX) return Ring::MatToMat;
  if (producer == MATRIX && consumer == VECTOR) return Ring::MatToVec;
  if (producer == VECTOR && consumer == MATRIX) return Ring::VecToMat;
  if (producer == VECTOR && consumer == VECTOR) return Ring::VecToVec;
  return std::nullopt;
}

const OnChipOperands* operands_of(const Node& node) {
  // A GEMV offloaded to PIM (attrs pim) reads and writes its activations in memory.
  if (attr_int(node, "pim", 0) != 0) return nullptr;
  const OnChipOperands* o = LoweringRegistry::on_chip(node.op());
  return o != nullptr && o->queue != QUEUE_UNSPECIFIED ? o : nullptr;
}

}  // namespace

OnChipRings OnChip::room(uint64_t capacity_bytes) {
  OnChipRings rings{};
  for (RingLayout& r : rings) {
    r.slots = 4;
    r.slot_bytes = capacity_bytes / 16 / kOnChipRings / r.slots / kAlign * kAlign;
  }
  return rings;
}

OnChip::OnChip(const Graph& graph, const TensorIndex& tensors, const SpmLayout& layout) {
  struct Use {
    int producer = -1;
    int producers = 0;
    std::vector<std::pair<int, int>> readers;  // (node, input)
  };
  std::map<std::string, Use> uses;  // ordered: the plan does not depend on hashing
  for (int i = 0; i < graph.nodes_size(); ++i) {
    const Node& node = graph.nodes(i);
    for (int k = 0; k < node.inputs_size(); ++k) uses[node.inputs(k)].readers.emplace_back(i, k);
    for (const std::string& out : node.outputs()) {
      Use& u = uses[out];
      u.producer = i;
      ++u.producers;
    }
  }
  struct Candidate {
    std::string name;
    Plan plan;
    int producer;
    uint64_t bytes;
  };
  std::vector<Candidate> candidates;
  for (const auto& [name, use] : uses) {
    if (use.producers != 1 || use.readers.empty()) continue;
    const Tensor& t = tensors.at(name, graph.nodes(use.producer).name());
    if (t.tensor_class() != ACTIVATION) continue;
    const OnChipOperands* from = operands_of(graph.nodes(use.producer));
    if (from == nullptr || !from->output) continue;
    Queue consumer = QUEUE_UNSPECIFIED;
    bool all = true;
    for (const auto& [node, input] : use.readers) {
      const OnChipOperands* to = operands_of(graph.nodes(node));
      all = all && node > use.producer && to != nullptr && input < 32 &&
            ((to->inputs >> input) & 1) != 0 &&
            (consumer == QUEUE_UNSPECIFIED || consumer == to->queue);
      if (to != nullptr) consumer = to->queue;
    }
    if (!all) continue;
    const std::optional<Ring> ring = ring_between(from->queue, consumer);
    if (!ring) continue;
    // The tensor as its consumers read it: a GEMM's last K tile rounds its
    // fp32 sums to the tensor's dtype (the partial sums are in tile buffers
    // of their own, compiler/lowering/gemm.cpp).
    const uint64_t element_bytes = dtype_bytes(t.dtype(), 1);
    const RingLayout& r = layout[*ring];
    const uint64_t bytes = num_elements(t) * element_bytes;
    if (r.slots == 0 || bytes > r.slot_bytes) continue;
    candidates.push_back(
        {name, {*ring, use.readers.back().first, element_bytes}, use.producer, bytes});
  }
  // In program order, each ring holds at most its slots of live tensors: a
  // tensor is live from its producer through its last reader.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.producer != b.producer ? a.producer < b.producer : a.name < b.name;
  });
  std::vector<std::vector<uint32_t>> live(kRings, std::vector<uint32_t>(graph.nodes_size() + 1, 0));
  for (const Candidate& c : candidates) {
    auto& count = live[static_cast<size_t>(c.plan.ring)];
    const auto first = count.begin() + c.producer;
    const auto last = count.begin() + c.plan.last_reader + 1;
    if (*std::max_element(first, last) >= layout[c.plan.ring].slots) continue;
    RingLayout& r = rings_[static_cast<size_t>(c.plan.ring) - kFirstOnChipRing];
    for (auto it = first; it != last; ++it) r.slots = std::max(r.slots, ++*it);
    r.slot_bytes = std::max(r.slot_bytes, round_up(c.bytes, kAlign));
    plan_.emplace(c.name, c.plan);
  }
}

std::vector<std::string> OnChip::forwarded() const {
  std::vector<std::string> names;
  for (const auto& [name, plan] : plan_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<OnChipTensor> OnChip::output(const Tensor& tensor, ProgramBuilder& builder) {
  auto it = plan_.find(tensor.name());
  if (it == plan_.end()) return std::nullopt;
  const OnChipTensor t{builder.acquire(it->second.ring, /*pinned=*/true), it->second.element_bytes};
  live_[tensor.name()] = t;
  return t;
}

std::optional<OnChipTensor> OnChip::input(const Tensor& tensor) const {
  auto it = live_.find(tensor.name());
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

void OnChip::lowered(int node, ProgramBuilder& builder) {
  for (auto it = live_.begin(); it != live_.end();) {
    if (plan_.at(it->first).last_reader == node) {
      builder.unpin(it->second.buffer);
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace npusim::compiler

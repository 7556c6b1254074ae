// Lowering of graph nodes to instructions, one op kind per file; each file
// registers its ops with NPUSIM_REGISTER_LOWERING. An op without a lowering
// is an error naming the node and the op.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "arch/dataflow.h"
#include "compiler/graph.pb.h"
#include "compiler/graph_util.h"
#include "compiler/lowering/on_chip.h"
#include "compiler/program_builder.h"
#include "memory/pim/pim_cost.h"

namespace npusim::compiler {

// What the compiler knows of one memory, as the DMA reaches it (through its
// link, if it has one): the fields of Target that describe a memory.
struct MemoryPath {
  double bytes_per_cycle = 1000.0;  // memory_bytes_per_cycle
  double latency_cycles = 0;        // memory_latency_cycles
  uint32_t channels = 1;            // memory_channels
  double peak_bytes_per_cycle = 0;  // memory_peak_bytes_per_cycle
  uint64_t granule_bytes = 0;       // memory_granule_bytes
  // A memory whose banks compute: what the PIM offload's cost model needs
  // (compiler/passes/pim_offload.h); none for any other memory.
  std::optional<memory::pim::PimCost> pim;
};

struct GemmTilingCache;  // compiler/lowering/gemm.h
[[nodiscard]] std::shared_ptr<GemmTilingCache> new_tiling_cache();

// What the compiler knows of the machine.
struct Target {
  arch::ArrayShape array{128, 128};
  uint32_t arrays = 1;
  Dataflow dataflow = WEIGHT_STATIONARY;
  uint32_t vector_lanes = 128;
  uint64_t spm_capacity_bytes = 16u << 20;
  bool forward_activations = true;         // keep activations between ops on chip (on_chip.h)
  double memory_bytes_per_cycle = 1000.0;  // peak memory bandwidth / core clock
  double memory_latency_cycles = 0;        // read-latency estimate (0: not limiting)
  uint32_t dma_outstanding = 64;           // requests the DMA keeps in flight
  uint64_t dma_outstanding_bytes = 0;      // and the bytes they may hold; 0: no limit
  uint64_t dma_max_request_bytes = 4096;   // longest request; a strided row is one each
  std::string where = "system";            // named in errors (the system file)
  double clock_ghz = 1.0;                  // the core's clock (cost estimates in ns)
  // Ops run one after another (ExecutionConfig.kernel_by_kernel): each
  // queue's instructions are ordered op by op.
  bool kernel_by_kernel = false;
  // The core the program is for, the cores its ALL_REDUCE nodes sum over
  // in ring order (tensor parallelism; none: no ring), and the cores its
  // PIPE_RECV and PIPE_SEND nodes receive from and send to (pipeline
  // parallelism; -1: none) in pieces of pipe_bytes (the same on every
  // core: the receive buffer ends the scratchpad).
  uint32_t core = 0;
  std::vector<uint32_t> ring;
  int64_t pipe_from = -1, pipe_to = -1;
  uint64_t pipe_bytes = 0;

  // The memory's channels and the bytes each serves before the address
  // moves to the next (0: one shared bus), and the memory's own peak (a
  // channel serves peak / channels; memory_bytes_per_cycle may be the
  // scratchpad port's, when that is less; 0: the same).
  uint32_t memory_channels = 1;
  double memory_peak_bytes_per_cycle = 0;
  uint64_t memory_granule_bytes = 0;

  // Bytes per cycle a transfer made of `row_bytes` rows can stream, each
  // row one request (at most dma_max_request_bytes): a closed queueing
  // network solved by (approximate) mean value analysis. `dma_outstanding` requests
  // (fewer when dma_outstanding_bytes holds fewer of this size)
  // circulate between the DMA and the memory; a request spreads over the
  // channels its bytes reach (one per granule), occupies each for its
  // share of the bytes at a channel's bandwidth and queues behind the
  // other requests there; the rest of memory_latency_cycles is a pure delay.
  // Long requests reach the peak; short ones are latency-bound, and near
  // the peak the channels' queues grow, as a DRAM's do.
  [[nodiscard]] double stream_bytes_per_cycle(uint64_t row_bytes) const;

  // The system's memories (common/address_space.h: memory i's addresses
  // start at i << 50); empty: one, the fields above. A node is lowered with
  // the fields of the memory that holds most of its input bytes.
  std::vector<MemoryPath> memories;
  // Sets the memory fields to memory `m`'s.
  void use_memory(size_t m) {
    const MemoryPath& p = memories.at(m);
    memory_bytes_per_cycle = p.bytes_per_cycle;
    memory_latency_cycles = p.latency_cycles;
    memory_channels = p.channels;
    memory_peak_bytes_per_cycle = p.peak_bytes_per_cycle;
    memory_granule_bytes = p.granule_bytes;
  }
  // Computed rates by row bytes, for the fields they were computed with.
  mutable std::unordered_map<uint64_t, double> stream_cache_;
  mutable std::array<double, 8> stream_cache_for_{};
  // Tilings chosen (choose_gemm_tiling), by everything the choice reads;
  // shared by the copies of a target (each core's, each memory's), so a
  // model's identical layers on every core choose once.
  std::shared_ptr<GemmTilingCache> tiling_cache_ = new_tiling_cache();
};

struct LoweringContext {
  const Graph& graph;
  const TensorIndex& tensors;
  const Target& target;
  ProgramBuilder& builder;
  // Where lowering records its decisions (tile sizes, ...) on the node being
  // lowered, for `compile --emit=tiled`; may be null.
  Node* record = nullptr;
  // Activations forwarded on chip between ops; may be null (none are).
  OnChip* on_chip = nullptr;

  // Records an integer decision on the node being lowered.
  void note(const std::string& key, int64_t value) const {
    if (record != nullptr) (*record->mutable_attrs())[key].set_i(value);
  }

  // Registers a graph tensor with the builder; returns its program index. A
  // view (alias_of) is its base tensor's bytes: the same program tensor, so
  // that a load of the view waits for the stores of the base.
  uint32_t tensor(const Tensor& t) const {
    const Tensor* base = &t;
    while (!base->alias_of().empty()) base = &tensors.at(base->alias_of(), t.name());
    return builder.tensor(base->name(), base->tensor_class(), base->size_bytes(), base->address());
  }

  // Where an input is on chip, when its producer left it there (recorded
  // on the node as on_chip.<tensor>).
  [[nodiscard]] std::optional<OnChipTensor> on_chip_input(const Tensor& t) const {
    std::optional<OnChipTensor> in = on_chip != nullptr ? on_chip->input(t) : std::nullopt;
    if (in) note("on_chip." + t.name(), 1);
    return in;
  }
  // A buffer to leave the output in instead of storing it, when the plan
  // forwards it (recorded as on_chip.<tensor>).
  [[nodiscard]] std::optional<OnChipTensor> on_chip_output(const Tensor& t) const {
    std::optional<OnChipTensor> out =
        on_chip != nullptr ? on_chip->output(t, builder) : std::nullopt;
    if (out) note("on_chip." + t.name(), 1);
    return out;
  }
};

using LowerFn = std::function<void(const Node&, LoweringContext&)>;
// The on-chip rings (Ring::MatToMat on) a lowering keeps its own
// intermediates in, beyond the forwarded activations': the scratchpad is
// laid out with room for the most any node asks.
using RingsFn = std::function<OnChipRings(const Node&, const TensorIndex&, const Target&)>;

class LoweringRegistry {
 public:
  // `on_chip`: the operands the lowering can take from, or leave in, the
  // scratchpad (activation forwarding); none by default.
  static bool add(OpType op, LowerFn fn, OnChipOperands on_chip = {}, RingsFn rings = nullptr);
  // nullptr when `op` has no lowering.
  [[nodiscard]] static const LowerFn* find(OpType op);
  [[nodiscard]] static const OnChipOperands* on_chip(OpType op);
  // nullptr when `op`'s lowering keeps nothing of its own on chip.
  [[nodiscard]] static const RingsFn* rings(OpType op);
};

}  // namespace npusim::compiler

#define NPUSIM_REGISTER_LOWERING(OP, FN)                               \
  [[maybe_unused]] static const bool npusim_lowering_registered_##OP = \
      ::npusim::compiler::LoweringRegistry::add(OP, FN)
// A lowering that can read the inputs, or leave the output, that
// `ON_CHIP` (an OnChipOperands) names in the scratchpad.
#define NPUSIM_REGISTER_LOWERING_ON_CHIP(OP, FN, ON_CHIP)              \
  [[maybe_unused]] static const bool npusim_lowering_registered_##OP = \
      ::npusim::compiler::LoweringRegistry::add(OP, FN, ON_CHIP)
// A lowering with intermediates of its own in the on-chip rings that
// `RINGS` (a RingsFn) asks for.
#define NPUSIM_REGISTER_LOWERING_WITH_RINGS(OP, FN, RINGS)             \
  [[maybe_unused]] static const bool npusim_lowering_registered_##OP = \
      ::npusim::compiler::LoweringRegistry::add(OP, FN, {}, RINGS)

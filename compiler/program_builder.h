// Turns the lowering's instructions into a Program: scratchpad buffers,
// the semaphores between queues, and the order of each queue.
//
// The scratchpad is split into rings of equal-size slots, one ring per
// (producer queue, consumer queue) pair. Lowering acquires a slot, fills it
// (a DMA load or a compute op's output), reads it, and the builder derives
// the synchronisation: the first writer of a slot waits for the slot's
// previous reader to release it (BUFFER_FREE), the first reader waits for the
// last writer (DATA_READY). Every such edge, plus read-after-write through
// memory (a load after the stores whose bytes it overlaps) and the in-order
// compute queues, forms a graph; one priority
// topological order of it (weight loads as early as their slot allows, so
// DMA streams ahead of compute) gives each queue its order. Any topological
// order projected onto in-order queues cannot deadlock.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "arch/isa.pb.h"
#include "compiler/collectives.h"

namespace npusim::compiler {

// The last four hold activations forwarded on chip from one op to the next
// (see compiler/lowering/on_chip.h), named by producer and consumer queue.
enum class Ring : uint8_t {
  Weight,
  MatIn,
  MatOut,
  VecIn,
  VecOut,
  MatToMat,
  MatToVec,
  VecToMat,
  VecToVec
};
inline constexpr size_t kRings = 9;

struct RingLayout {
  uint64_t base = 0;
  uint64_t slot_bytes = 0;
  uint32_t slots = 0;
};

struct SpmLayout {
  std::array<RingLayout, kRings> rings;
  [[nodiscard]] const RingLayout& operator[](Ring r) const { return rings[static_cast<size_t>(r)]; }
};

// Half of the scratchpad streams weights, a quarter holds matrix inputs and an
// eighth matrix outputs, each in two slots per systolic array (at least four)
// so that every array can compute on one tile while the next one loads; the
// vector unit's inputs and outputs get a sixteenth each, in four slots.
// `out_share` sixteenths hold matrix outputs (default 2; the weights get
// what the others leave): a tile streams as many rows as its fp32
// accumulators hold, so steps with many rows (prefill) want more.
// The four on-chip rings (Ring::MatToMat on: forwarded activations, and
// the intermediates of lowerings that keep their own there) take the slots
// `on_chip` gives them (default none) in place of as many whole weight
// slots as they need; at least two weight slots must stay (std::logic_error
// otherwise: the planners size the rings to leave them).
inline constexpr size_t kOnChipRings = 4;
inline constexpr size_t kFirstOnChipRing = static_cast<size_t>(Ring::MatToMat);
using OnChipRings = std::array<RingLayout, kOnChipRings>;  // base is ignored
[[nodiscard]] SpmLayout default_spm_layout(uint64_t capacity_bytes, uint32_t arrays,
                                           uint64_t out_share = 2, const OnChipRings& on_chip = {});

struct Buffer {
  Ring ring;
  uint32_t occupancy;  // index into the builder's occupancies
  uint64_t spm_addr;
  // The same buffer from `bytes` on (a part of it, for a transfer or an op).
  [[nodiscard]] Buffer at(uint64_t bytes) const { return {ring, occupancy, spm_addr + bytes}; }
};

// Semaphores between cores, for the buffers of core c that other cores
// send into (a ring's receive buffer and data, a pipeline's receive
// buffer): every core's program names them kSharedSemaphore + 8 c + role;
// core c's program defines them (with that id), and merge_core_programs()
// gives them their place among the merged program's semaphores. The first
// four roles are collectives.h's RingRole.
enum class SharedRole : uint8_t {
  RecvFull,
  RecvFree,
  Added,
  Gathered,
  Loaded,    // a ring piece is in the data buffer
  PipeFull,  // the pipeline's receive buffer holds a piece
  PipeFree   // and is free for the next
};
inline constexpr uint32_t kSharedSemaphore = 1u << 30;
[[nodiscard]] constexpr uint32_t shared_semaphore(uint32_t core, SharedRole role) {
  return kSharedSemaphore + 8 * core + static_cast<uint32_t>(role);
}

// The cores a core's program exchanges data with: the ring its
// all-reduces run over (tensor parallelism; in ring order, `core` among
// them) and the pipeline's previous and next core (pipeline parallelism).
// The scratchpad bytes from spm_base on are theirs alone: the ring's
// `ring_bytes` (its data, then a chunk's receive buffer: at the same place
// on every core of the ring), then the pipeline's `pipe_bytes` to send
// from and as many to receive into, which end the scratchpad (at the same
// place on every core).
struct CorePeers {
  uint32_t core = 0;
  std::vector<uint32_t> ring;
  int64_t from = -1, to = -1;  // -1: none
  uint64_t spm_base = 0;
  uint64_t ring_bytes = 0;
  uint64_t pipe_bytes = 0;
  [[nodiscard]] uint32_t rank() const;  // the core's position in the ring
};

class ProgramBuilder {
 public:
  // The most instructions a program may have: about 1.5 GB while it is
  // built and some 20 s each to build and to simulate. A workload needing
  // more is refused (UserError) rather than exhausting memory or time.
  static constexpr uint64_t kMaxInstructions = uint64_t{1} << 22;

  ProgramBuilder(std::string name, const SpmLayout& layout, CorePeers peers = {});

  // UserError naming the current node when `more` instructions would take
  // the program past kMaxInstructions; lowerings call it before allocating
  // in proportion to the instructions they will emit.
  void reserve(uint64_t more) const;

  [[nodiscard]] const SpmLayout& layout() const { return layout_; }

  // Registers a tensor the program moves (once per name); returns its index.
  uint32_t tensor(const std::string& name, TensorClass cls, uint64_t bytes, uint64_t address);
  // The graph node the following instructions implement.
  void set_node(const std::string& name, const std::string& op = "");

  // The next slot of `ring` (round robin over slots that are not pinned); its
  // previous contents are released first. A pinned buffer keeps its slot
  // until unpin(), so later acquires in the same op skip it.
  [[nodiscard]] Buffer acquire(Ring ring, bool pinned = false);
  void unpin(const Buffer& buffer);

  void load(const Buffer& dst, uint32_t tensor, uint64_t dram_addr, uint64_t row_bytes,
            uint64_t rows = 1, uint64_t dram_stride = 0);
  // With `pim`, into a region a PIM memory computes with (isa.proto DmaOp.pim).
  void store(const Buffer& src, uint32_t tensor, uint64_t dram_addr, uint64_t row_bytes,
             uint64_t rows = 1, uint64_t dram_stride = 0, const PimRegionRef* pim = nullptr);
  void matrix(const MatrixOp& op, std::initializer_list<Buffer> reads, const Buffer& out);
  void vector(const VectorOp& op, const std::vector<Buffer>& reads, const Buffer& out);
  // A PIM GEMV on the DMA queue: reads `in`, writes `out` (the DMA engine
  // orders it after the loads into `in` and before the transfers of `out`).
  void pim(const PimOp& op, const Buffer& in, const Buffer& out);

  // Sums `elements` of tensor `in` (from memory address in_addr) over the
  // ring's cores into tensor `out` (at out_addr) on every one: a ring
  // all-reduce (compiler/collectives.h ring_steps) through the ring's
  // scratchpad bytes, in pieces that fit them. Its sends and adds wait on
  // the ring's semaphores; here each waits for the step before it on this
  // core, as it does on every other core, so that one order suits all.
  void all_reduce(uint32_t in, uint64_t in_addr, uint32_t out, uint64_t out_addr, uint64_t elements,
                  DType dtype);

  // Pipeline parallelism: sends `bytes` of tensor `t` (at `addr`) to the
  // next core, which receives them (pipe_recv) into its tensor; in pieces
  // of the pipeline's buffer, each sent once the next core has stored the
  // one before.
  void pipe_send(uint32_t t, uint64_t addr, uint64_t bytes);
  // Stores what the previous core sends (pipe_send) into tensor `t`, as
  // late in the DMA queue as the loads that read it allow (waiting early
  // would hold up the prefetches behind it).
  void pipe_recv(uint32_t t, uint64_t addr, uint64_t bytes);

  [[nodiscard]] Program finish();
  // Orders every queue op by op (all of one graph node's instructions before
  // the next node's), for kernel-by-kernel execution; default false.
  void set_op_by_op(bool on) { op_by_op_ = on; }

 private:
  struct Node {
    Queue queue;
    // (On the heap from the start: the program takes it as it is, where a
    // message by value was moved into a new one, 6% of a model's compile.)
    std::unique_ptr<Instruction> ins;
    int64_t priority;
  };
  // Instruction `node` comes after instruction `on`.
  void depend(uint32_t node, uint32_t on) { edges_.push_back({node, on}); }
  struct Edge {
    uint32_t node, on;
  };
  struct Occupancy {
    Ring ring;
    uint32_t slot;
    int64_t previous;  // earlier occupancy of the same slot, or -1
    std::vector<uint32_t> writers;
    std::vector<uint32_t> readers;
  };

  uint32_t add(Queue queue, Instruction ins);
  void compute(Queue queue, Instruction ins, const std::vector<Buffer>& reads, const Buffer& out);
  void dma(const Buffer& buf, DmaOp::Direction dir, uint32_t tensor, uint64_t dram_addr,
           uint64_t row_bytes, uint64_t rows, uint64_t dram_stride,
           const PimRegionRef* pim = nullptr);
  [[nodiscard]] uint32_t full_sem(Ring ring, uint32_t slot) const;
  [[nodiscard]] uint32_t empty_sem(Ring ring, uint32_t slot) const;
  [[nodiscard]] std::vector<uint32_t> order() const;

  void ring_piece(uint32_t in, uint64_t in_addr, uint32_t out, uint64_t out_addr, uint64_t elements,
                  DType dtype);
  // A DMA transfer (a load after the stores it reads), its buffer's
  // synchronisation left to the caller.
  uint32_t transfer(DmaOp::Direction dir, uint32_t tensor, uint64_t dram_addr, uint64_t spm_addr,
                    uint64_t row_bytes, uint64_t rows = 1, uint64_t dram_stride = 0,
                    const PimRegionRef* pim = nullptr);
  // Node `id` after the stores of `tensor` that overlap [begin, end).
  void after_stores(uint32_t id, uint32_t tensor, uint64_t begin, uint64_t end);
  // A transfer of the peers' buffers (outside the rings), issued as soon as
  // its data allows: other cores wait for it.
  uint32_t peer_transfer(DmaOp::Direction dir, uint32_t tensor, uint64_t addr, uint64_t spm,
                         uint64_t bytes);
  // Defines this core's semaphore of `role`, signalled by `producer` of
  // core `signaller`; a BUFFER_FREE one of `free_bytes` when those are > 0.
  void define(SharedRole role, Queue producer, int64_t signaller, uint64_t free_bytes);

  Program program_;
  SpmLayout layout_;
  CorePeers peers_;
  int64_t last_ring_store_ = -1;  // the last piece's store: the next piece's load follows it
  int64_t last_pipe_ = -1;  // the last pipeline send: the next load into its buffer follows it
  int64_t last_load_ = -1;  // the last load into a ring buffer (a pinned one follows it)
  std::array<uint32_t, kRings> sem_base_{};
  std::array<uint64_t, kRings> acquired_{};
  std::array<std::vector<int64_t>, kRings> last_occupancy_;
  std::array<std::vector<bool>, kRings> pinned_;
  std::vector<Node> nodes_;
  // Every dependency, in one list (not a vector per instruction: millions
  // of small allocations in a multi-chip model's programs).
  std::vector<Edge> edges_;
  std::vector<Occupancy> occupancies_;
  std::unordered_map<std::string, uint32_t> tensor_index_;
  struct StoredRange {
    uint64_t begin, end;  // bytes in memory
    uint32_t node;
  };
  // Per tensor, the stores so far: a load depends on those it overlaps, so
  // a consumer can start on the part of a tensor already written.
  std::unordered_map<uint32_t, std::vector<StoredRange>> stores_of_;
  std::unordered_map<std::string, uint32_t> node_index_;
  uint32_t node_ = 0;
  bool op_by_op_ = false;
};

}  // namespace npusim::compiler

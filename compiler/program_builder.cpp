#include "compiler/program_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <queue>
#include <stdexcept>
#include <tuple>

#include "common/dtype.h"
#include "common/error.h"
#include "common/integer.h"

namespace npusim::compiler {
namespace {

struct RingUse {
  const char* name;
  Queue producer;
  Queue consumer;
};

constexpr std::array<RingUse, kRings> kRoles = {{
    {"weight", DMA, MATRIX},
    {"mat_in", DMA, MATRIX},
    {"mat_out", MATRIX, DMA},
    {"vec_in", DMA, VECTOR},
    {"vec_out", VECTOR, DMA},
    {"mat_to_mat", MATRIX, MATRIX},
    {"mat_to_vec", MATRIX, VECTOR},
    {"vec_to_mat", VECTOR, MATRIX},
    {"vec_to_vec", VECTOR, VECTOR},
}};

// A ring whose producer and consumer are one in-order queue needs no
// semaphores: the queue's order is the synchronisation.
bool same_queue(size_t r) {
  return kRoles[r].producer == kRoles[r].consumer;
}

void add_sem(SemOp* op, uint32_t sem) {
  op->set_sem(sem);
  op->set_count(1);
}

const RingUse& role(Ring r) {
  return kRoles[static_cast<size_t>(r)];
}

}  // namespace

SpmLayout default_spm_layout(uint64_t capacity_bytes, uint32_t arrays, uint64_t out_share,
                             const OnChipRings& on_chip) {
  // Share of the capacity (in 1/16) and slot count of each ring, in Ring
  // order; the forwarded activations' rings take weight slots.
  const uint32_t per_array = std::max<uint32_t>(4, 2 * arrays);
  const uint64_t weight = 14 - 4 - out_share;
  const std::array<std::pair<uint64_t, uint32_t>, kFirstOnChipRing> shares = {{
      {weight, per_array},
      {4, per_array},          // mat_in
      {out_share, per_array},  // mat_out
      {1, 4},                  // vec_in
      {1, 4},                  // vec_out
  }};
  constexpr uint64_t kAlign = 64;
  uint64_t on_chip_bytes = 0;
  for (const RingLayout& r : on_chip) on_chip_bytes += r.slots * r.slot_bytes;
  SpmLayout layout;
  uint64_t base = 0;
  for (size_t r = 0; r < kRings; ++r) {
    RingLayout& ring = layout.rings[r];
    if (r >= kFirstOnChipRing) {
      ring = on_chip[r - kFirstOnChipRing];
    } else {
      ring.slots = shares[r].second;
      ring.slot_bytes = capacity_bytes * shares[r].first / 16 / ring.slots / kAlign * kAlign;
      if (r == static_cast<size_t>(Ring::Weight) && on_chip_bytes > 0 && ring.slot_bytes > 0) {
        // Whole weight slots make the room, so that the tiles that fit a
        // weight slot stay the same; two stay for the weights.
        const uint64_t given = ceil_div(on_chip_bytes, ring.slot_bytes);
        if (given + 2 > ring.slots) {
          throw std::logic_error(fmt::format(
              "scratchpad layout: {} bytes of on-chip rings leave fewer than two of the {} "
              "weight slots of {} bytes",
              on_chip_bytes, ring.slots, ring.slot_bytes));
        }
        ring.slots -= static_cast<uint32_t>(given);
      }
    }
    ring.base = base;
    base += ring.slots * ring.slot_bytes;
  }
  return layout;
}

uint32_t CorePeers::rank() const {
  for (size_t i = 0; i < ring.size(); ++i) {
    if (ring[i] == core) return static_cast<uint32_t>(i);
  }
  throw std::logic_error(fmt::format("core {} is not in its ring", core));
}

ProgramBuilder::ProgramBuilder(std::string name, const SpmLayout& layout, CorePeers peers)
    : layout_(layout), peers_(std::move(peers)) {
  program_.set_name(std::move(name));
  program_.add_cores();
  // This core's semaphores for what its peers send it.
  if (peers_.ring.size() >= 2) {
    const auto n = static_cast<uint32_t>(peers_.ring.size());
    const uint32_t prev = peers_.ring[(peers_.rank() + n - 1) % n];
    define(SharedRole::RecvFull, DMA, prev, 0);
    define(SharedRole::RecvFree, VECTOR, peers_.core, peers_.ring_bytes);
    define(SharedRole::Added, VECTOR, peers_.core, 0);
    define(SharedRole::Gathered, DMA, prev, 0);
    define(SharedRole::Loaded, DMA, peers_.core, 0);
  }
  if (peers_.from >= 0) {
    define(SharedRole::PipeFull, DMA, peers_.from, 0);
    define(SharedRole::PipeFree, DMA, peers_.core, peers_.pipe_bytes);
  }
  uint32_t id = 0;
  for (size_t r = 0; r < kRings; ++r) {
    sem_base_[r] = id;
    last_occupancy_[r].assign(layout_.rings[r].slots, -1);
    pinned_[r].assign(layout_.rings[r].slots, false);
    if (same_queue(r)) continue;
    for (uint32_t s = 0; s < layout_.rings[r].slots; ++s) {
      Semaphore* full = program_.add_semaphores();
      full->set_id(id++);
      full->set_name(fmt::format("{}[{}].full", kRoles[r].name, s));
      full->set_producer(kRoles[r].producer);
      full->set_kind(DATA_READY);
      Semaphore* empty = program_.add_semaphores();
      empty->set_id(id++);
      empty->set_name(fmt::format("{}[{}].free", kRoles[r].name, s));
      empty->set_producer(kRoles[r].consumer);
      empty->set_kind(BUFFER_FREE);
      empty->set_bytes(layout_.rings[r].slot_bytes);
      empty->set_initial(1);
    }
  }
}

void ProgramBuilder::define(SharedRole role, Queue producer, int64_t signaller,
                            uint64_t free_bytes) {
  static constexpr std::array<const char*, 7> kNames = {
      "recv_full", "recv_free", "added", "gathered", "loaded", "pipe_full", "pipe_free"};
  Semaphore* sem = program_.add_semaphores();
  sem->set_id(shared_semaphore(peers_.core, role));
  sem->set_name(fmt::format("core{}.{}", peers_.core, kNames[static_cast<size_t>(role)]));
  sem->set_producer(producer);
  sem->set_core(static_cast<uint32_t>(signaller));
  sem->set_kind(free_bytes > 0 ? BUFFER_FREE : DATA_READY);
  sem->set_initial(free_bytes > 0 ? 1 : 0);
  sem->set_bytes(free_bytes);
}

uint32_t ProgramBuilder::full_sem(Ring ring, uint32_t slot) const {
  return sem_base_[static_cast<size_t>(ring)] + 2 * slot;
}
uint32_t ProgramBuilder::empty_sem(Ring ring, uint32_t slot) const {
  return full_sem(ring, slot) + 1;
}

uint32_t ProgramBuilder::tensor(const std::string& name, TensorClass cls, uint64_t bytes,
                                uint64_t address) {
  auto [it, inserted] = tensor_index_.emplace(name, static_cast<uint32_t>(program_.tensors_size()));
  if (inserted) {
    TensorRef* t = program_.add_tensors();
    t->set_name(name);
    t->set_tensor_class(cls);
    t->set_bytes(bytes);
    t->set_dram_addr(address);
  }
  return it->second;
}

void ProgramBuilder::set_node(const std::string& name, const std::string& op) {
  auto [it, inserted] = node_index_.emplace(name, static_cast<uint32_t>(program_.nodes_size()));
  if (inserted) {
    program_.add_nodes(name);
    program_.add_node_ops(op);
  }
  node_ = it->second;
}

Buffer ProgramBuilder::acquire(Ring ring, bool pinned) {
  const size_t r = static_cast<size_t>(ring);
  const uint32_t slots = layout_.rings[r].slots;
  uint32_t slot = 0;
  for (uint32_t tries = 0;; ++tries) {
    if (tries == slots) {
      throw std::logic_error(
          fmt::format("program builder: every {} slot is pinned", kRoles[r].name));
    }
    slot = static_cast<uint32_t>(acquired_[r]++ % slots);
    if (!pinned_[r][slot]) break;
  }
  pinned_[r][slot] = pinned;
  const auto occ = static_cast<uint32_t>(occupancies_.size());
  occupancies_.push_back({ring, slot, last_occupancy_[r][slot], {}, {}});
  last_occupancy_[r][slot] = occ;
  return {ring, occ, layout_.rings[r].base + slot * layout_.rings[r].slot_bytes};
}

void ProgramBuilder::unpin(const Buffer& buffer) {
  const Occupancy& occ = occupancies_[buffer.occupancy];
  pinned_[static_cast<size_t>(occ.ring)][occ.slot] = false;
}

void ProgramBuilder::reserve(uint64_t more) const {
  if (more <= kMaxInstructions && nodes_.size() <= kMaxInstructions - more) return;
  const std::string node = node_ < static_cast<uint32_t>(program_.nodes_size())
                               ? "node '" + program_.nodes(static_cast<int>(node_)) + "'"
                               : std::string("the program");
  throw UserError(fmt::format(
      "compiler: {} takes the program past {} instructions, the most npusim builds and "
      "simulates; simulate fewer layers (--layers), a smaller batch or a shorter prompt",
      node, kMaxInstructions));
}

uint32_t ProgramBuilder::add(Queue queue, Instruction ins) {
  reserve(1);
  const auto id = static_cast<uint32_t>(nodes_.size());
  ins.set_node(node_);
  nodes_.push_back(
      {queue, std::make_unique<Instruction>(std::move(ins)), static_cast<int64_t>(id)});
  return id;
}

uint32_t ProgramBuilder::transfer(DmaOp::Direction dir, uint32_t tensor, uint64_t dram_addr,
                                  uint64_t spm_addr, uint64_t row_bytes, uint64_t rows,
                                  uint64_t dram_stride, const PimRegionRef* pim) {
  if (rows > 1 && dram_stride == row_bytes) {  // contiguous rows: one 1-D transfer
    row_bytes *= rows;
    rows = 1;
  }
  Instruction ins;
  DmaOp* op = ins.mutable_dma();
  op->set_direction(dir);
  op->set_dram_addr(dram_addr);
  op->set_spm_addr(spm_addr);
  op->set_row_bytes(row_bytes);
  op->set_rows(rows);
  op->set_dram_stride(rows > 1 ? dram_stride : 0);
  op->set_tensor(tensor);
  op->set_tensor_class(program_.tensors(static_cast<int>(tensor)).tensor_class());
  if (pim != nullptr) *op->mutable_pim() = *pim;
  const uint32_t id = add(DMA, std::move(ins));
  // The bytes the transfer touches, as one range (rows with gaps included).
  const uint64_t begin = dram_addr, end = dram_addr + (rows - 1) * dram_stride + row_bytes;
  if (dir == DmaOp::LOAD) {
    after_stores(id, tensor, begin, end);
  } else {
    stores_of_[tensor].push_back({begin, end, id});
  }
  return id;
}

void ProgramBuilder::after_stores(uint32_t id, uint32_t tensor, uint64_t begin, uint64_t end) {
  auto it = stores_of_.find(tensor);
  if (it == stores_of_.end()) return;
  for (const StoredRange& st : it->second) {
    if (st.begin < end && begin < st.end) depend(id, st.node);
  }
}

void ProgramBuilder::dma(const Buffer& buf, DmaOp::Direction dir, uint32_t tensor,
                         uint64_t dram_addr, uint64_t row_bytes, uint64_t rows,
                         uint64_t dram_stride, const PimRegionRef* pim) {
  const uint32_t id =
      transfer(dir, tensor, dram_addr, buf.spm_addr, row_bytes, rows, dram_stride, pim);
  Occupancy& occ = occupancies_[buf.occupancy];
  if (dir == DmaOp::LOAD) {
    occ.writers.push_back(id);
    // Loads go out as early as their slot allows, in the order compute needs
    // them, so DMA streams ahead of compute. A load into a pinned slot (an
    // operand that stays: a GEMM's resident input, flash attention's, a
    // vector op's parameters, a tensor kept on chip) waits for little more
    // than its slot's last use, so it would go before every load still
    // waiting for a slot: it keeps its place after the loads before it
    // instead (a GEMM's whole resident input went ahead of the weights its
    // first tiles need).
    if (pinned_[static_cast<size_t>(occ.ring)][occ.slot] && last_load_ >= 0) {
      depend(id, static_cast<uint32_t>(last_load_));
    }
    last_load_ = id;
    nodes_[id].priority -= int64_t{1} << 40;
  } else {
    occ.readers.push_back(id);
    // Stores go out as soon as their data is ready: a store stuck behind
    // prefetches would hold its buffer, and the compute that needs it, back.
    nodes_[id].priority -= int64_t{1} << 41;
  }
}

void ProgramBuilder::load(const Buffer& dst, uint32_t tensor, uint64_t dram_addr,
                          uint64_t row_bytes, uint64_t rows, uint64_t dram_stride) {
  dma(dst, DmaOp::LOAD, tensor, dram_addr, row_bytes, rows, dram_stride);
}

void ProgramBuilder::store(const Buffer& src, uint32_t tensor, uint64_t dram_addr,
                           uint64_t row_bytes, uint64_t rows, uint64_t dram_stride,
                           const PimRegionRef* pim) {
  dma(src, DmaOp::STORE, tensor, dram_addr, row_bytes, rows, dram_stride, pim);
}

void ProgramBuilder::compute(Queue queue, Instruction ins, const std::vector<Buffer>& reads,
                             const Buffer& out) {
  const uint32_t id = add(queue, std::move(ins));
  for (const Buffer& b : reads) {
    // A buffer read twice by one instruction (x + x) is one read: its
    // readers are chained in order, and a reader after itself is a cycle.
    std::vector<uint32_t>& readers = occupancies_[b.occupancy].readers;
    if (readers.empty() || readers.back() != id) readers.push_back(id);
  }
  occupancies_[out.occupancy].writers.push_back(id);
}

void ProgramBuilder::matrix(const MatrixOp& op, std::initializer_list<Buffer> reads,
                            const Buffer& out) {
  Instruction ins;
  *ins.mutable_matrix() = op;
  compute(MATRIX, std::move(ins), std::vector<Buffer>(reads), out);
}

void ProgramBuilder::vector(const VectorOp& op, const std::vector<Buffer>& reads,
                            const Buffer& out) {
  Instruction ins;
  *ins.mutable_vector() = op;
  compute(VECTOR, std::move(ins), reads, out);
}

void ProgramBuilder::pim(const PimOp& op, const Buffer& in, const Buffer& out) {
  Instruction ins;
  *ins.mutable_pim() = op;
  const uint32_t id = add(DMA, std::move(ins));
  occupancies_[in.occupancy].readers.push_back(id);
  occupancies_[out.occupancy].writers.push_back(id);
  // Read after write: the stores into its block (a KV cache's appends).
  const uint64_t bytes = uint64_t{op.out_rows()} * op.in_cols() * 2;
  const uint64_t begin =
      program_.tensors(static_cast<int>(op.tensor())).dram_addr() + uint64_t{op.block()} * bytes;
  after_stores(id, op.tensor(), begin, begin + bytes);
}

void ProgramBuilder::all_reduce(uint32_t in, uint64_t in_addr, uint32_t out, uint64_t out_addr,
                                uint64_t elements, DType dtype) {
  const auto n = static_cast<uint64_t>(peers_.ring.size());
  if (n < 2) throw std::logic_error("program builder: an all-reduce without a ring of cores");
  // A piece of e elements takes e in the data buffer and e / n (rounded up)
  // in the receive buffer, each 64-byte aligned.
  constexpr uint64_t kAlign = 64;
  const auto fits = [&](uint64_t e) {
    const uint64_t data = round_up(dtype_bytes(dtype, e), kAlign);
    return data + dtype_bytes(dtype, ceil_div(e, n)) <= peers_.ring_bytes;
  };
  uint64_t piece = std::min(elements, peers_.ring_bytes / dtype_bytes(dtype, 1));
  while (piece > 0 && !fits(piece)) piece = piece * n / (n + 1);
  // Equal pieces, each at least 2n / 2 = n elements (a chunk per core).
  if (piece < 2 * n && piece < elements) piece = 0;
  if (piece < n || elements < n) {
    throw std::logic_error(fmt::format(
        "program builder: an all-reduce of {} elements over {} cores in {} scratchpad bytes",
        elements, n, peers_.ring_bytes));
  }
  const uint64_t pieces = ceil_div(elements, piece);
  reserve(pieces * (4 * n));
  for (uint64_t k = 0; k < pieces; ++k) {
    const uint64_t e = k * elements / pieces, count = (k + 1) * elements / pieces - e;
    ring_piece(in, in_addr + dtype_bytes(dtype, e), out, out_addr + dtype_bytes(dtype, e), count,
               dtype);
  }
}

uint32_t ProgramBuilder::peer_transfer(DmaOp::Direction dir, uint32_t tensor, uint64_t addr,
                                       uint64_t spm, uint64_t bytes) {
  const uint32_t id = transfer(dir, tensor, addr, spm, bytes);
  nodes_[id].priority -= int64_t{1} << 41;  // as soon as their data allows: peers wait for them
  return id;
}

void ProgramBuilder::ring_piece(uint32_t in, uint64_t in_addr, uint32_t out, uint64_t out_addr,
                                uint64_t elements, DType dtype) {
  const auto n = static_cast<uint32_t>(peers_.ring.size());
  const uint32_t r = peers_.rank(), next = (r + 1) % n;
  const auto bytes = [&](uint64_t e) { return dtype_bytes(dtype, e); };
  const uint64_t data = peers_.spm_base;
  const uint64_t scratch = data + (bytes(elements) + 63) / 64 * 64;
  const auto sem = [&](RingSemRef ref) {
    return shared_semaphore(peers_.ring[ref.next ? next : r], static_cast<SharedRole>(ref.role));
  };
  const uint32_t loaded = shared_semaphore(peers_.core, SharedRole::Loaded);
  // The piece into the data buffer, after the stores it reads and the
  // previous piece's store out of the buffer.
  uint32_t last = peer_transfer(DmaOp::LOAD, in, in_addr, data, bytes(elements));
  add_sem(nodes_[last].ins->add_signal(), loaded);
  if (last_ring_store_ >= 0) depend(last, static_cast<uint32_t>(last_ring_store_));
  for (const RingStep& step : ring_steps(RingOp::AllReduce, n, r)) {
    Instruction ins =
        ring_step_instruction(step, n, elements, dtype, data, scratch, peers_.ring[next]);
    if (step.after_data && step.kind == RingStep::Add) add_sem(ins.add_wait(), loaded);
    for (RingSemRef w : step.waits) add_sem(ins.add_wait(), sem(w));
    for (RingSemRef g : step.signals) add_sem(ins.add_signal(), sem(g));
    // The step before it here stands for the steps of the other cores it
    // waits for: every core's program has them in the same place.
    const uint32_t id = add(step.kind == RingStep::Send ? DMA : VECTOR, std::move(ins));
    depend(id, last);
    nodes_[id].priority -= int64_t{1} << 41;
    last = id;
  }
  // The sum out, once the last chunk has landed.
  const uint32_t store = peer_transfer(DmaOp::STORE, out, out_addr, data, bytes(elements));
  add_sem(nodes_[store].ins->add_wait(), sem({RingRole::Gathered}));
  depend(store, last);
  last_ring_store_ = store;
}

void ProgramBuilder::pipe_send(uint32_t t, uint64_t addr, uint64_t bytes) {
  if (peers_.to < 0 || peers_.pipe_bytes == 0) {
    throw std::logic_error("program builder: a pipeline send without a next core");
  }
  const uint64_t out = peers_.spm_base + peers_.ring_bytes;
  const auto to = static_cast<uint32_t>(peers_.to);
  for (uint64_t b = 0; b < bytes; b += peers_.pipe_bytes) {
    const uint64_t n = std::min(peers_.pipe_bytes, bytes - b);
    // Into the send buffer (the send waits by itself for loads into its
    // bytes before it on the DMA queue), then into the next core's.
    uint32_t load = peer_transfer(DmaOp::LOAD, t, addr + b, out, n);
    if (last_pipe_ >= 0) depend(load, static_cast<uint32_t>(last_pipe_));
    Instruction ins;
    SendOp& op = *ins.mutable_send();
    op.set_spm_addr(out);
    op.set_bytes(n);
    op.set_dest_core(to);
    op.set_dest_spm_addr(out + peers_.pipe_bytes);
    add_sem(ins.add_wait(), shared_semaphore(to, SharedRole::PipeFree));
    add_sem(ins.add_signal(), shared_semaphore(to, SharedRole::PipeFull));
    const uint32_t id = add(DMA, std::move(ins));
    depend(id, load);
    nodes_[id].priority -= int64_t{1} << 41;
    last_pipe_ = id;
  }
}

void ProgramBuilder::pipe_recv(uint32_t t, uint64_t addr, uint64_t bytes) {
  if (peers_.from < 0 || peers_.pipe_bytes == 0) {
    throw std::logic_error("program builder: a pipeline receive without a previous core");
  }
  for (uint64_t b = 0; b < bytes; b += peers_.pipe_bytes) {
    const uint64_t n = std::min(peers_.pipe_bytes, bytes - b);
    const uint32_t id = peer_transfer(DmaOp::STORE, t, addr + b,
                                      peers_.spm_base + peers_.ring_bytes + peers_.pipe_bytes, n);
    add_sem(nodes_[id].ins->add_wait(), shared_semaphore(peers_.core, SharedRole::PipeFull));
    add_sem(nodes_[id].ins->add_signal(), shared_semaphore(peers_.core, SharedRole::PipeFree));
    // As late as the loads that read it allow: waiting early for the
    // previous core would hold up the DMA queue's prefetches behind it.
    nodes_[id].priority += int64_t{1} << 42;
  }
}

std::vector<uint32_t> ProgramBuilder::order() const {
  const size_t n = nodes_.size();
  // Each instruction's users, as one array: users of i at [first[i], first[i + 1]).
  std::vector<uint32_t> pending(n, 0), first(n + 1, 0), users(edges_.size());
  for (const Edge& e : edges_) {
    ++first[e.on + 1];
    ++pending[e.node];
  }
  for (size_t i = 0; i < n; ++i) first[i + 1] += first[i];
  {
    std::vector<uint32_t> fill(first.begin(), first.end() - 1);
    for (const Edge& e : edges_) users[fill[e.on]++] = e.node;
  }
  // Op by op, the graph node comes first: dependencies only point to
  // earlier nodes (instructions are added node by node), so this order is
  // topological too.
  using Key = std::tuple<uint32_t, int64_t, uint32_t>;
  std::priority_queue<Key, std::vector<Key>, std::greater<>> ready;
  auto key = [&](uint32_t i) {
    return Key{op_by_op_ ? nodes_[i].ins->node() : 0u, nodes_[i].priority, i};
  };
  for (uint32_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(key(i));
  }
  std::vector<uint32_t> out;
  out.reserve(n);
  while (!ready.empty()) {
    const uint32_t i = std::get<2>(ready.top());
    ready.pop();
    out.push_back(i);
    for (uint32_t k = first[i]; k < first[i + 1]; ++k) {
      if (--pending[users[k]] == 0) ready.push(key(users[k]));
    }
  }
  if (out.size() != n) {
    throw std::logic_error(
        fmt::format("program builder: dependency cycle ({} of {} instructions ordered); a lowering "
                    "holds more buffers of one ring at once than the ring has slots",
                    out.size(), n));
  }
  return out;
}

Program ProgramBuilder::finish() {
  // Synchronisation of every buffer occupancy. A slot passes from one
  // occupancy's last reader to the next one's first writer; between two
  // queues by its free semaphore, within one by the queue's order (a tile's
  // partial sums, written and read by the matrix unit in a slot that
  // otherwise goes to the DMA: no semaphore either side).
  std::vector<int64_t> next(occupancies_.size(), -1);
  for (size_t i = 0; i < occupancies_.size(); ++i) {
    if (occupancies_[i].previous >= 0)
      next[static_cast<size_t>(occupancies_[i].previous)] = static_cast<int64_t>(i);
  }
  for (size_t i = 0; i < occupancies_.size(); ++i) {
    const Occupancy& occ = occupancies_[i];
    if (occ.writers.empty() || occ.readers.empty()) {
      throw std::logic_error(fmt::format("program builder: a {} buffer is never {}",
                                         role(occ.ring).name,
                                         occ.writers.empty() ? "written" : "read"));
    }
    for (size_t w = 1; w < occ.writers.size(); ++w) {
      depend(occ.writers[w], occ.writers[w - 1]);
    }
    for (size_t r = 1; r < occ.readers.size(); ++r) {
      depend(occ.readers[r], occ.readers[r - 1]);
    }
    Node& first_writer = nodes_[occ.writers.front()];
    Node& last_writer = nodes_[occ.writers.back()];
    Node& first_reader = nodes_[occ.readers.front()];
    Node& last_reader = nodes_[occ.readers.back()];
    if (occ.previous >= 0) {
      depend(occ.writers.front(), occupancies_[static_cast<size_t>(occ.previous)].readers.back());
    }
    depend(occ.readers.front(), occ.writers.back());
    if (same_queue(static_cast<size_t>(occ.ring))) continue;
    const Queue q = first_writer.queue;
    const auto on_q = [&](uint32_t id) { return nodes_[id].queue == q; };
    const bool one_queue = std::all_of(occ.writers.begin(), occ.writers.end(), on_q) &&
                           std::all_of(occ.readers.begin(), occ.readers.end(), on_q);
    const bool wait_free =
        occ.previous < 0 ||
        nodes_[occupancies_[static_cast<size_t>(occ.previous)].readers.back()].queue != q;
    const bool give_free =
        next[i] < 0 ? !one_queue
                    : last_reader.queue !=
                          nodes_[occupancies_[static_cast<size_t>(next[i])].writers.front()].queue;
    if (wait_free) add_sem(first_writer.ins->add_wait(), empty_sem(occ.ring, occ.slot));
    if (!one_queue) {
      add_sem(last_writer.ins->add_signal(), full_sem(occ.ring, occ.slot));
      add_sem(first_reader.ins->add_wait(), full_sem(occ.ring, occ.slot));
    }
    if (give_free) add_sem(last_reader.ins->add_signal(), empty_sem(occ.ring, occ.slot));
  }
  // Compute queues execute in the order lowering emitted them.
  std::array<int64_t, 4> last{-1, -1, -1, -1};
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    const Queue q = nodes_[i].queue;
    if (q == DMA) continue;
    if (last[q] >= 0) depend(i, static_cast<uint32_t>(last[q]));
    last[q] = i;
  }

  CoreProgram& core = *program_.mutable_cores(0);
  std::vector<bool> dirty(static_cast<size_t>(program_.tensors_size()), false);
  bool any_dirty = false;
  for (uint32_t i : order()) {
    Node& node = nodes_[i];
    switch (node.queue) {
      case DMA: {
        const bool pim = node.ins->has_pim();
        const uint32_t tensor = pim ? node.ins->pim().tensor() : node.ins->dma().tensor();
        if (!pim && node.ins->dma().direction() == DmaOp::STORE) {
          dirty[tensor] = true;
          any_dirty = true;
        } else if (any_dirty && dirty[tensor]) {
          // Waits for every earlier store.
          pim ? node.ins->mutable_pim()->set_fence(true) : node.ins->mutable_dma()->set_fence(true);
          std::fill(dirty.begin(), dirty.end(), false);
          any_dirty = false;
        }
        core.mutable_dma()->AddAllocated(node.ins.release());
        break;
      }
      case MATRIX:
        core.mutable_matrix()->AddAllocated(node.ins.release());
        break;
      default:
        core.mutable_vector()->AddAllocated(node.ins.release());
        break;
    }
  }
  nodes_.clear();
  edges_.clear();
  occupancies_.clear();
  return std::move(program_);
}

}  // namespace npusim::compiler

#include "compiler/collectives.h"

#include <fmt/format.h>

#include "common/dtype.h"
#include "common/error.h"

namespace npusim::compiler {
namespace {

uint32_t add_semaphore(Program& p, const std::string& name, Queue producer, uint32_t core,
                       SemaphoreKind kind, uint32_t initial) {
  Semaphore* s = p.add_semaphores();
  s->set_id(static_cast<uint32_t>(p.semaphores_size() - 1));
  s->set_name(name);
  s->set_producer(producer);
  s->set_core(core);
  s->set_kind(kind);
  s->set_initial(initial);
  return s->id();
}

void add_op(google::protobuf::RepeatedPtrField<SemOp>* ops, uint32_t sem) {
  SemOp* op = ops->Add();
  op->set_sem(sem);
  op->set_count(1);
}

}  // namespace

void ring_collective(Program& program, const RingCollective& spec) {
  const auto n = static_cast<uint32_t>(spec.cores.size());
  require(n >= 2, "collective", spec.name + ".cores", "a ring needs 2 or more cores");
  require(spec.elements >= n, "collective", spec.name + ".elements",
          fmt::format("{} elements do not make a chunk for each of {} cores", spec.elements, n));
  require(spec.data_ready.empty() || spec.data_ready.size() == n, "collective",
          spec.name + ".data_ready", "one semaphore per core of the ring, or none");
  const bool reduce = spec.op != RingOp::AllGather, gather = spec.op != RingOp::ReduceScatter;
  const auto first = [&](uint32_t k) { return k * spec.elements / n; };
  const auto count = [&](uint32_t k) { return first(k + 1) - first(k); };
  const auto bytes = [&](uint64_t e) { return dtype_bytes(spec.dtype, e); };
  // Per position r in the ring: its receive buffer full (given by the
  // previous core's sends), free again (by its adds), a chunk added (for
  // its own next send), an all-gather chunk landed (by the previous core).
  std::vector<uint32_t> full(n), free(n), added(n), landed(n);
  for (uint32_t r = 0; r < n; ++r) {
    const uint32_t core = spec.cores[r], prev = spec.cores[(r + n - 1) % n];
    const std::string at = fmt::format("{}[{}]", spec.name, r);
    if (reduce) {
      full[r] = add_semaphore(program, at + ".recv_full", DMA, prev, DATA_READY, 0);
      free[r] = add_semaphore(program, at + ".recv_free", VECTOR, core, BUFFER_FREE, 1);
      program.mutable_semaphores(static_cast<int>(free[r]))->set_bytes(bytes(count(0) + 1));
      added[r] = add_semaphore(program, at + ".added", VECTOR, core, DATA_READY, 0);
    }
    if (gather) landed[r] = add_semaphore(program, at + ".gathered", DMA, prev, DATA_READY, 0);
  }
  const auto send = [&](CoreProgram& core, uint32_t chunk, uint32_t to, uint64_t dest) {
    Instruction& out = *core.add_dma();
    SendOp& op = *out.mutable_send();
    op.set_spm_addr(spec.spm_data + bytes(first(chunk)));
    op.set_bytes(bytes(count(chunk)));
    op.set_dest_core(spec.cores[to]);
    op.set_dest_spm_addr(dest);
    return &out;
  };
  for (uint32_t r = 0; r < n; ++r) {
    const uint32_t next = (r + 1) % n;
    CoreProgram& core = *program.mutable_cores(static_cast<int>(spec.cores[r]));
    for (uint32_t s = 0; reduce && s + 1 < n; ++s) {
      const uint32_t out = (r + n - s) % n, in = (r + 2 * n - s - 1) % n;
      Instruction& sent = *send(core, out, next, spec.spm_scratch);
      if (s > 0) add_op(sent.mutable_wait(), added[r]);  // the chunk it added last step
      add_op(sent.mutable_wait(), free[next]);           // the next core's buffer is free
      add_op(sent.mutable_signal(), full[next]);
      Instruction& sum = *core.add_vector();
      VectorOp& v = *sum.mutable_vector();
      v.set_kind(ADD);
      v.set_length(count(in));
      v.set_dtype(spec.dtype);
      v.set_spm_in(spec.spm_data + bytes(first(in)));
      v.set_spm_in2(spec.spm_scratch);
      v.set_spm_out(spec.spm_data + bytes(first(in)));
      if (s == 0 && !spec.data_ready.empty()) add_op(sum.mutable_wait(), spec.data_ready[r]);
      add_op(sum.mutable_wait(), full[r]);
      add_op(sum.mutable_signal(), free[r]);
      add_op(sum.mutable_signal(), added[r]);
    }
    // All-gather: the chunk it holds complete, then each it received.
    const uint32_t h = reduce ? 1 : 0;
    for (uint32_t s = 0; gather && s + 1 < n; ++s) {
      const uint32_t chunk = (r + h + n - s) % n;
      Instruction& sent = *send(core, chunk, next, spec.spm_data + bytes(first(chunk)));
      if (s > 0) {
        add_op(sent.mutable_wait(), landed[r]);
      } else if (reduce) {
        add_op(sent.mutable_wait(), added[r]);
      } else if (!spec.data_ready.empty()) {
        // A send waits by itself for the loads into its bytes before it on
        // its own DMA queue; data from another queue or core needs the wait.
        const Semaphore& ready = program.semaphores(static_cast<int>(spec.data_ready[r]));
        if (ready.producer() != DMA || ready.core() != spec.cores[r]) {
          add_op(sent.mutable_wait(), spec.data_ready[r]);
        }
      }
      add_op(sent.mutable_signal(), landed[next]);
    }
  }
}

Program collective_program(RingOp op, uint32_t cores, uint64_t elements, DType dtype,
                           uint32_t count) {
  Program p;
  p.set_name(
      fmt::format("{} ring collective(s) of {} elements over {} cores", count, elements, cores));
  for (uint32_t c = 0; c < cores; ++c) p.add_cores();
  const uint64_t bytes = dtype_bytes(dtype, elements);
  for (uint32_t k = 0; k < count; ++k) {
    RingCollective r;
    r.op = op;
    for (uint32_t c = 0; c < cores; ++c) r.cores.push_back(c);
    r.spm_data = 2 * k * bytes;
    r.spm_scratch = r.spm_data + bytes;
    r.elements = elements;
    r.dtype = dtype;
    r.name = fmt::format("collective{}", k);
    ring_collective(p, r);
  }
  return p;
}

}  // namespace npusim::compiler

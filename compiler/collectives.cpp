#include "compiler/collectives.h"

#include <fmt/format.h>

#include <array>

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

// A collective's buffer of E elements cut in n chunks: chunk k is elements
// [k E / n, (k + 1) E / n).
struct Chunks {
  uint32_t n;
  uint64_t elements;
  DType dtype;
  [[nodiscard]] uint64_t first(uint32_t k) const { return k * elements / n; }
  [[nodiscard]] uint64_t count(uint32_t k) const { return first(k + 1) - first(k); }
  [[nodiscard]] uint64_t bytes(uint64_t e) const { return dtype_bytes(dtype, e); }
};

// The chunks of collective `c` (a `what`), checked: 2 or more cores, a
// chunk for each, a data-ready semaphore per core or none.
Chunks checked(const Collective& c, const char* what) {
  const auto n = static_cast<uint32_t>(c.cores.size());
  require(n >= 2, "collective", c.name + ".cores", fmt::format("{} needs 2 or more cores", what));
  require(c.elements >= n, "collective", c.name + ".elements",
          fmt::format("{} elements do not make a chunk for each of {} cores", c.elements, n));
  require(c.data_ready.empty() || c.data_ready.size() == n, "collective", c.name + ".data_ready",
          "one semaphore per core, or none");
  return {n, c.elements, c.dtype};
}

// `ins`, the first of a collective's instructions on `core` to use its
// buffer, waits for semaphore `ready` (the buffer in the scratchpad)
// unless it is on the DMA queue whose loads give it: a send waits by
// itself for the loads into its bytes before it on its own queue.
void wait_for_data(const Program& program, Instruction& ins, bool on_dma, uint32_t ready,
                   uint32_t core) {
  const Semaphore& sem = program.semaphores(static_cast<int>(ready));
  if (!on_dma || sem.producer() != DMA || sem.core() != core) add_op(ins.mutable_wait(), ready);
}

}  // namespace

const char* ring_role_name(RingRole role) {
  static constexpr std::array<const char*, kRingRoles> kNames = {"recv_full", "recv_free", "added",
                                                                 "gathered"};
  return kNames[static_cast<size_t>(role)];
}

std::vector<RingStep> ring_steps(RingOp op, uint32_t n, uint32_t r) {
  const bool reduce = op != RingOp::AllGather, gather = op != RingOp::ReduceScatter;
  std::vector<RingStep> steps;
  for (uint32_t s = 0; reduce && s + 1 < n; ++s) {
    RingStep send{RingStep::Send, (r + n - s) % n, true, false, {}, {}};
    if (s > 0) send.waits.push_back({RingRole::Added});  // the chunk it added last step
    send.waits.push_back({RingRole::RecvFree, true});    // the next core's buffer is free
    send.signals.push_back({RingRole::RecvFull, true});
    steps.push_back(std::move(send));
    steps.push_back({RingStep::Add,
                     (r + 2 * n - s - 1) % n,
                     false,
                     s == 0,
                     {{RingRole::RecvFull}},
                     {{RingRole::RecvFree}, {RingRole::Added}}});
  }
  // All-gather: the chunk it holds complete, then each it received.
  const uint32_t h = reduce ? 1 : 0;
  for (uint32_t s = 0; gather && s + 1 < n; ++s) {
    RingStep send{RingStep::Send, (r + h + n - s) % n, false, false, {}, {}};
    if (s > 0) {
      send.waits.push_back({RingRole::Gathered});
    } else if (reduce) {
      send.waits.push_back({RingRole::Added});
    } else {
      send.after_data = true;
    }
    send.signals.push_back({RingRole::Gathered, true});
    steps.push_back(std::move(send));
  }
  return steps;
}

Instruction ring_step_instruction(const RingStep& step, uint32_t n, uint64_t elements, DType dtype,
                                  uint64_t spm_data, uint64_t spm_scratch, uint32_t next) {
  const uint64_t first = step.chunk * elements / n;
  const uint64_t count = (step.chunk + 1) * elements / n - first;
  const uint64_t at = spm_data + dtype_bytes(dtype, first);
  Instruction ins;
  if (step.kind == RingStep::Send) {
    SendOp& op = *ins.mutable_send();
    op.set_spm_addr(at);
    op.set_bytes(dtype_bytes(dtype, count));
    op.set_dest_core(next);
    op.set_dest_spm_addr(step.into_scratch ? spm_scratch : at);
  } else {
    VectorOp& v = *ins.mutable_vector();
    v.set_kind(ADD);
    v.set_length(count);
    v.set_dtype(dtype);
    v.set_spm_in(at);
    v.set_spm_in2(spm_scratch);
    v.set_spm_out(at);
  }
  return ins;
}

void ring_collective(Program& program, const RingCollective& spec) {
  const Chunks chunks = checked(spec, "a ring");
  const uint32_t n = chunks.n;
  // Per position r, the semaphore of each role the collective uses.
  std::vector<std::array<uint32_t, kRingRoles>> sems(n);
  const bool reduce = spec.op != RingOp::AllGather, gather = spec.op != RingOp::ReduceScatter;
  for (uint32_t r = 0; r < n; ++r) {
    const uint32_t prev = (r + n - 1) % n;
    for (size_t i = 0; i < kRingRoles; ++i) {
      const auto role = static_cast<RingRole>(i);
      if (role == RingRole::Gathered ? !gather : !reduce) continue;
      const bool free = role == RingRole::RecvFree;
      sems[r][i] = add_semaphore(
          program, fmt::format("{}[{}].{}", spec.name, r, ring_role_name(role)),
          given_by_previous(role) ? DMA : VECTOR, spec.cores[given_by_previous(role) ? prev : r],
          free ? BUFFER_FREE : DATA_READY, free ? 1 : 0);
      if (free)
        program.mutable_semaphores(static_cast<int>(sems[r][i]))
            ->set_bytes(chunks.bytes(chunks.count(0) + 1));
    }
  }
  for (uint32_t r = 0; r < n; ++r) {
    const uint32_t next = (r + 1) % n;
    const auto sem = [&](RingSemRef ref) {
      return sems[ref.next ? next : r][static_cast<size_t>(ref.role)];
    };
    CoreProgram& core = *program.mutable_cores(static_cast<int>(spec.cores[r]));
    for (const RingStep& step : ring_steps(spec.op, n, r)) {
      Instruction& ins = step.kind == RingStep::Send ? *core.add_dma() : *core.add_vector();
      ins = ring_step_instruction(step, n, spec.elements, spec.dtype, spec.spm_data,
                                  spec.spm_scratch, spec.cores[next]);
      if (step.after_data && !spec.data_ready.empty()) {
        wait_for_data(program, ins, step.kind == RingStep::Send, spec.data_ready[r], spec.cores[r]);
      }
      for (RingSemRef w : step.waits) add_op(ins.mutable_wait(), sem(w));
      for (RingSemRef g : step.signals) add_op(ins.mutable_signal(), sem(g));
    }
  }
}

void all_to_all(Program& program, const AllToAll& spec) {
  const Chunks c = checked(spec, "an all-to-all");
  const uint32_t n = c.n;
  // from[d][s]: chunk d of core s landed in core d's slot s (s == d: copied).
  std::vector<std::vector<uint32_t>> from(n, std::vector<uint32_t>(n));
  for (uint32_t d = 0; d < n; ++d) {
    for (uint32_t s = 0; s < n; ++s) {
      from[d][s] = add_semaphore(program,
                                 s == d ? fmt::format("{}[{}].own", spec.name, d)
                                        : fmt::format("{}[{}].from[{}]", spec.name, d, s),
                                 s == d ? VECTOR : DMA, spec.cores[s], DATA_READY, 0);
    }
  }
  for (uint32_t r = 0; r < n; ++r) {
    CoreProgram& core = *program.mutable_cores(static_cast<int>(spec.cores[r]));
    const auto after_data = [&](Instruction& ins, bool on_dma) {
      if (!spec.data_ready.empty())
        wait_for_data(program, ins, on_dma, spec.data_ready[r], spec.cores[r]);
    };
    for (uint32_t j = 1; j < n; ++j) {
      const uint32_t d = (r + j) % n;
      Instruction& ins = *core.add_dma();
      SendOp& op = *ins.mutable_send();
      op.set_spm_addr(spec.spm_data + c.bytes(c.first(d)));
      op.set_bytes(c.bytes(c.count(d)));
      op.set_dest_core(spec.cores[d]);
      op.set_dest_spm_addr(spec.spm_out + c.bytes(uint64_t{r} * c.count(d)));
      if (j == 1) after_data(ins, true);
      add_op(ins.mutable_signal(), from[d][r]);
    }
    Instruction& copy = *core.add_vector();
    VectorOp& v = *copy.mutable_vector();
    v.set_kind(COPY);
    v.set_length(c.count(r));
    v.set_dtype(spec.dtype);
    v.set_spm_in(spec.spm_data + c.bytes(c.first(r)));
    v.set_spm_out(spec.spm_out + c.bytes(uint64_t{r} * c.count(r)));
    after_data(copy, false);
    add_op(copy.mutable_signal(), from[r][r]);
  }
}

namespace {

// A program of `cores` cores running `count` collectives (`what`) at once,
// each `name`<k> over all the cores in order: add(p, c) appends collective k
// (`c`, of `elements`), its buffer at 2 k x their bytes in every scratchpad
// and what it receives (second) right after.
template <typename Add>
Program at_once(const char* what, const char* name, uint32_t cores, uint64_t elements, DType dtype,
                uint32_t count, Add add) {
  Program p;
  p.set_name(fmt::format("{} {}(s) of {} elements over {} cores", count, what, elements, cores));
  for (uint32_t c = 0; c < cores; ++c) p.add_cores();
  const uint64_t bytes = dtype_bytes(dtype, elements);
  for (uint32_t k = 0; k < count; ++k) {
    Collective c;
    for (uint32_t core = 0; core < cores; ++core) c.cores.push_back(core);
    c.spm_data = 2 * k * bytes;
    c.elements = elements;
    c.dtype = dtype;
    c.name = fmt::format("{}{}", name, k);
    add(p, c, c.spm_data + bytes);
  }
  return p;
}

}  // namespace

Program all_to_all_program(uint32_t cores, uint64_t elements, DType dtype, uint32_t count) {
  return at_once("all-to-all", "all_to_all", cores, elements, dtype, count,
                 [](Program& p, const Collective& c, uint64_t second) {
                   AllToAll a;
                   static_cast<Collective&>(a) = c;
                   a.spm_out = second;
                   all_to_all(p, a);
                 });
}

Program collective_program(RingOp op, uint32_t cores, uint64_t elements, DType dtype,
                           uint32_t count) {
  return at_once("ring collective", "collective", cores, elements, dtype, count,
                 [op](Program& p, const Collective& c, uint64_t second) {
                   RingCollective r;
                   static_cast<Collective&>(r) = c;
                   r.op = op;
                   r.spm_scratch = second;
                   ring_collective(p, r);
                 });
}

}  // namespace npusim::compiler

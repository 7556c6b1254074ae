#include "arch/engine.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"

namespace npusim::arch {

Engine::Engine(const sc_core::sc_module_name& name, Queue queue, const Instructions& program,
               CoreContext& context)
    : sc_core::sc_module(name),
      context_(context),
      queue_(queue),
      program_(program),
      clock_ps_(context.clock.value()) {
  if (context.ledger != nullptr) {
    std::array<int64_t, kActivities> columns = log_.columns();
    for (Activity a : {Activity::StallMemory, Activity::StallMatrix, Activity::StallVector}) {
      columns[static_cast<size_t>(a)] = context.ledger->add_column();
    }
    log_.record(context.ledger, columns);
  }
  SC_THREAD(run);
  SC_METHOD(fire_completions);
  sensitive << completion_event_;
  dont_initialize();
}

void Engine::wait_until(uint64_t time_ps) {
  const uint64_t now = now_ps();
  if (time_ps > now) sc_core::wait(sc_core::sc_time::from_value(time_ps - now));
}

void Engine::run() {
  for (const auto& instruction : program_) {
    if (context_.kernels != nullptr && (executed_ == 0 || instruction.node() != kernel_)) {
      // A new kernel: it starts when the ones before it have ended on every
      // unit, and the launch gap has passed.
      kernel_ = instruction.node();
      const uint64_t from = now_ps();
      const uint64_t start = context_.kernels->start_ps(kernel_);
      wait_until(start);
      if (now_ps() > from) log_.append(from, now_ps(), Activity::StallKernel);
    }
    inputs_ready_ps_ = 0;
    for (const auto& op : instruction.wait()) acquire(op);
    if (first_issue_ps_ == UINT64_MAX) first_issue_ps_ = now_ps();
    if (trace_ != nullptr) issued_ps_[&instruction] = now_ps();
    if (NodeProfile* p = node_profile(instruction)) {
      p->first_issue_ps = std::min(p->first_issue_ps, now_ps());
      ++p->instructions;
    }
    if (context_.functional != nullptr) {
      try {
        context_.functional->issue(queue_, instruction);
      } catch (const UserError& e) {
        context_.fail(e);
      }
    }
    execute(instruction);
    if (++executed_ % 1024 == 0) {
      if (executed_ % 4096 == 0 && context_.prune) context_.prune();
      if (context_.progress) context_.progress();
    }
  }
  // Everything is issued; the unit finishes when its last work completes.
  drain();
  finish_ps_ = now_ps();
  finished_ = true;
  if (trace_ != nullptr) log_.finish();
  if (context_.finished != nullptr) context_.finished->notify();
}

void Engine::drain() {
  wait_until(std::max(last_completion_ps_, log_.end()));
}

void Engine::acquire(const SemOp& op) {
  SemaphoreBank& bank = *context_.semaphores;
  if (bank.count(op.sem()) < op.count()) {
    const uint64_t from = now_ps();
    waiting_since_ps_ = from;
    waiting_on_ = &op;
    while (bank.count(op.sem()) < op.count()) sc_core::wait(bank.changed(op.sem()));
    attribute_wait(bank.info(op.sem()), from, now_ps());
    waiting_since_ps_ = UINT64_MAX;
    waiting_on_ = nullptr;
  }
  inputs_ready_ps_ = std::max(inputs_ready_ps_, bank.given_ps(op.sem()));
  bank.take(op);
}

void Engine::attribute_wait(const Semaphore& sem, uint64_t from_ps, uint64_t to_ps) {
  if (to_ps <= from_ps) return;
  // Work issued before the wait keeps the unit busy for part of it: that
  // part is recorded as blocked, the rest is the unit's own stall.
  const uint64_t busy_until = log_.is_open() ? to_ps : std::max(from_ps, log_.end());
  for (const Segment& s : wait_causes(sem, from_ps, to_ps)) {
    if (s.start_ps < busy_until) {
      blocked_.append(s.start_ps, std::min(s.end_ps, busy_until), s.activity);
    }
    if (s.end_ps > busy_until) log_.append(std::max(s.start_ps, busy_until), s.end_ps, s.activity);
  }
}

std::vector<Segment> Engine::wait_causes(const Semaphore& sem, uint64_t from_ps,
                                         uint64_t to_ps) const {
  if (sem.kind() == BUFFER_FREE) return {{from_ps, to_ps, Activity::StallSpmSpace}};
  const Engine* producer = context_.engine(sem.producer());
  if (producer == nullptr || producer == this) {
    return {{from_ps, to_ps, Activity::StallDependency}};
  }
  const Activity producer_busy = producer->queue() == DMA      ? Activity::StallMemory
                                 : producer->queue() == MATRIX ? Activity::StallMatrix
                                                               : Activity::StallVector;
  std::vector<Segment> out;
  for (const Segment& s : producer->log().slice(from_ps, to_ps)) {
    if (s.activity != Activity::Busy) {
      out.push_back({s.start_ps, s.end_ps,
                     s.activity == Activity::Idle ? Activity::StallDependency : s.activity});
      continue;
    }
    // Busy: with its own next instruction waiting meanwhile, the producer
    // passes that wait's cause on.
    for (const Segment& b : producer->blocked().slice(s.start_ps, s.end_ps)) {
      out.push_back(
          {b.start_ps, b.end_ps, b.activity == Activity::Idle ? producer_busy : b.activity});
    }
  }
  return out;
}

void Engine::set_trace(TraceSink* sink) {
  trace_ = sink;
  if (sink == nullptr) {
    log_.observe(nullptr);
    return;
  }
  log_.observe([this](const Segment& span) { trace_->activity(queue_, span); });
}

NodeProfile* Engine::node_profile(const Instruction& instruction) {
  auto& profile = *context_.profile;
  return instruction.node() < profile.size() ? &profile[instruction.node()] : nullptr;
}

KernelBarrier::KernelBarrier(const CoreProgram& core, int nodes, uint64_t launch_gap_ps)
    : left_(static_cast<size_t>(nodes), 0), finish_ps_(left_.size(), 0), gap_ps_(launch_gap_ps) {
  // Each of the core's queues must take the ops in order, as the compiler
  // orders them for kernel-by-kernel execution, or a queue would wait for an
  // op behind it.
  const std::pair<const char*, const Instructions*> queues[] = {
      {"dma", &core.dma()}, {"matrix", &core.matrix()}, {"vector", &core.vector()}};
  for (const auto& [name, queue] : queues) {
    uint32_t last = 0;
    for (const Instruction& i : *queue) {
      if (i.node() < last) {
        throw UserError(fmt::format(
            "program: core.execution.kernel_by_kernel: the {} queue takes op {} after op {}; "
            "kernel by kernel needs each queue in op order (compile it for this system)",
            name, i.node(), last));
      }
      last = i.node();
      if (i.node() < left_.size()) ++left_[i.node()];
    }
  }
  first_ = static_cast<uint32_t>(
      std::find_if(left_.begin(), left_.end(), [](uint32_t n) { return n > 0; }) - left_.begin());
  advance();  // nodes without instructions
}

void KernelBarrier::issued(uint32_t node, uint64_t time_ps) {
  if (node >= left_.size()) return;
  finish_ps_[node] = std::max(finish_ps_[node], time_ps);
  --left_[node];
  if (advance()) advanced_.notify(sc_core::SC_ZERO_TIME);
}

bool KernelBarrier::advance() {
  const size_t before = done_;
  while (done_ < left_.size() && left_[done_] == 0) {
    done_finish_ps_ = std::max(done_finish_ps_, finish_ps_[done_]);
    ++done_;
  }
  return done_ != before;
}

uint64_t KernelBarrier::start_ps(uint32_t node) {
  while (done_ < std::min<size_t>(node, left_.size())) sc_core::wait(advanced_);
  // The first kernel starts at once; a later one a gap after the last end.
  return node <= first_ ? 0 : done_finish_ps_ + gap_ps_;
}

void Engine::complete_at(uint64_t time_ps, const Instruction& instruction) {
  if (context_.kernels != nullptr) context_.kernels->issued(instruction.node(), time_ps);
  if (NodeProfile* p = node_profile(instruction)) {
    p->last_completion_ps = std::max(p->last_completion_ps, time_ps);
  }
  if (trace_ != nullptr) {
    if (auto it = issued_ps_.find(&instruction); it != issued_ps_.end()) {
      trace_->instruction(queue_, instruction, it->second, std::max(time_ps, it->second));
      issued_ps_.erase(it);
    }
  }
  // Instructions retire in order: one signals when it and every earlier
  // instruction of the queue have completed.
  time_ps = std::max(time_ps, last_completion_ps_);
  last_completion_ps_ = time_ps;
  if (instruction.signal_size() == 0) return;
  pending_.push({time_ps, seq_++, &instruction});
  if (time_ps < notified_ps_) {  // one pending kernel notification, the earliest
    notified_ps_ = time_ps;
    completion_event_.notify(sc_core::sc_time::from_value(time_ps - now_ps()));
  }
}

void Engine::fire_completions() {
  const uint64_t now = now_ps();
  notified_ps_ = UINT64_MAX;
  while (!pending_.empty() && pending_.top().time_ps <= now) {
    const Instruction& done = *pending_.top().instruction;
    if (context_.functional != nullptr) context_.functional->retire(queue_, done);
    for (const auto& op : done.signal()) context_.semaphores->give(op);
    pending_.pop();
  }
  if (!pending_.empty()) {
    notified_ps_ = pending_.top().time_ps;
    completion_event_.notify(sc_core::sc_time::from_value(notified_ps_ - now));
  }
}

uint64_t Engine::horizon_ps() const {
  return std::min(waiting_since_ps_, now_ps());
}

std::string Engine::where() const {
  if (finished_) return "finished";
  if (waiting_on_ != nullptr) {
    const auto& sem = context_.semaphores->info(waiting_on_->sem());
    return fmt::format("instruction {} waits for semaphore {} '{}' (count {}, needs {})", executed_,
                       sem.id(), sem.name(), context_.semaphores->count(sem.id()),
                       waiting_on_->count());
  }
  return fmt::format("at instruction {} of {}", executed_, program_.size());
}

}  // namespace npusim::arch

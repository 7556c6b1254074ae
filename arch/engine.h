// One in-order instruction queue of a core (DMA, matrix or vector) and the
// unit that executes it. The queue's thread performs each instruction's
// semaphore waits, then hands it to the unit (execute()), which issues the
// work, records when the unit is busy and says when the work completes; the
// signals are raised at that completion time while the queue moves on.
// Instructions retire in order: work that finishes early (on another array,
// or a short transfer) signals no earlier than the instructions before it.
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <functional>
#include <queue>
#include <string>
#include <systemc>
#include <unordered_map>
#include <vector>

#include "arch/activity.h"
#include "arch/functional.h"
#include "arch/isa.pb.h"
#include "arch/semaphores.h"
#include "arch/trace_sink.h"
#include "common/error.h"

namespace npusim::arch {

class ChipNetwork;

class Engine;

// What the instructions of one graph node did (the report's per-op table).
struct NodeProfile {
  uint64_t first_issue_ps = UINT64_MAX;
  uint64_t last_completion_ps = 0;
  uint64_t macs = 0;             // matrix tiles: m x k x n
  uint64_t vector_elements = 0;  // vector ops: elements x passes over them
  uint64_t bytes_read = 0;       // DMA loads
  uint64_t bytes_written = 0;    // DMA stores
  uint64_t instructions = 0;
};

// Kernel-by-kernel execution (ExecutionConfig.kernel_by_kernel): an op
// starts on any unit only once every instruction of the ops before it has
// completed, plus a launch gap.
class KernelBarrier {
 public:
  KernelBarrier(const CoreProgram& core, int nodes, uint64_t launch_gap_ps);
  // An instruction of `node` will complete at `time_ps`.
  void issued(uint32_t node, uint64_t time_ps);
  // When `node` may start: once every earlier node's instructions have
  // been issued (waits for that), their last completion plus the gap.
  [[nodiscard]] uint64_t start_ps(uint32_t node);

 private:
  bool advance();                    // past every fully issued node; whether it moved
  std::vector<uint32_t> left_;       // per node: instructions not issued yet
  std::vector<uint64_t> finish_ps_;  // per node: its latest completion so far
  size_t done_ = 0;                  // nodes before this one are all issued
  uint64_t done_finish_ps_ = 0;      // their latest completion
  uint64_t gap_ps_;
  uint32_t first_ = 0;  // the first node with instructions
  sc_core::sc_event advanced_;
};

// What the engines of one core share.
struct CoreContext {
  SemaphoreBank* semaphores = nullptr;
  sc_core::sc_time clock;                       // NPU clock period
  std::function<const Engine*(Queue)> engine;   // the engine running a queue
  std::function<void()> prune;                  // drops log segments no queue can still query
  std::vector<NodeProfile>* profile = nullptr;  // per program node
  std::function<void()> progress;               // called every 1024 instructions of a queue
  sc_core::sc_event* finished = nullptr;        // notified as each queue finishes
  ResourceLedger* ledger = nullptr;             // resources and stall time (null: none kept)
  KernelBarrier* kernels = nullptr;             // kernel by kernel (null: ops overlap)
  FunctionalCore* functional = nullptr;         // executes with data (null: timing only)
  uint32_t core = 0;                            // this core (Program.cores index)
  ChipNetwork* network = nullptr;               // carries sends (null: one core)

  // Bad input found while the simulation runs: keeps the first error and
  // stops the simulation; simulate() throws it once sc_start() has returned.
  // Not thrown here: an exception would have to cross SystemC's threads.
  void fail(const UserError& e) {
    if (error) return;
    error = std::make_exception_ptr(e);
    sc_core::sc_stop();
  }
  std::exception_ptr error;
};

using Instructions = google::protobuf::RepeatedPtrField<Instruction>;

class Engine : public sc_core::sc_module {
 public:
  Engine(const sc_core::sc_module_name& name, Queue queue, const Instructions& program,
         CoreContext& context);

  [[nodiscard]] Queue queue() const { return queue_; }
  [[nodiscard]] const ActivityLog& log() const { return log_; }
  [[nodiscard]] ActivityLog& log() { return log_; }
  // While busy with earlier work, the times its next instruction waited and
  // why (Idle: not waiting). A unit waiting on this one inherits these
  // causes: a matrix unit still computing earlier tiles while its next tile
  // waits for weights holds its consumers up on memory.
  [[nodiscard]] const ActivityLog& blocked() const { return blocked_; }
  [[nodiscard]] ActivityLog& blocked() { return blocked_; }
  [[nodiscard]] bool finished() const { return finished_; }
  // When the last of this queue's work completed, ps.
  [[nodiscard]] uint64_t finish_ps() const { return finish_ps_; }
  // When its first instruction issued (UINT64_MAX: none has), ps.
  [[nodiscard]] uint64_t first_issue_ps() const { return first_issue_ps_; }
  [[nodiscard]] size_t executed() const { return executed_; }
  // The ledger column of the unit's stall time waiting on each busy path
  // (StallMemory, StallMatrix, StallVector), -1 for other activities or
  // without a ledger.
  [[nodiscard]] const std::array<int64_t, kActivities>& stall_columns() const {
    return log_.columns();
  }
  // Where the queue is stuck, for deadlock reports.
  [[nodiscard]] std::string where() const;
  // Earliest time this queue may still query another queue's log, ps.
  [[nodiscard]] uint64_t horizon_ps() const;
  // Reports the unit's activity and instructions to `sink` (null: none).
  void set_trace(TraceSink* sink);

 protected:
  SC_HAS_PROCESS(Engine);

  // Issues one instruction's work. Calls busy() for the time the unit works
  // (or opens and closes its activity log) and complete_at() once with the
  // completion time; may wait().
  virtual void execute(const Instruction& instruction) = 0;
  // Waits until all issued work has completed.
  virtual void drain();

  void busy(uint64_t start_ps, uint64_t end_ps) { log_.append(start_ps, end_ps, Activity::Busy); }
  void complete_at(uint64_t time_ps, const Instruction& instruction);
  [[nodiscard]] static uint64_t now_ps() { return sc_core::sc_time_stamp().value(); }
  // When the instruction being executed had what it waits for: the latest
  // time one of its semaphores was given (<= now; the queue may have come
  // to it later, behind earlier instructions).
  [[nodiscard]] uint64_t inputs_ready_ps() const { return inputs_ready_ps_; }
  [[nodiscard]] uint64_t cycles_ps(uint64_t cycles) const { return cycles * clock_ps_; }
  static void wait_until(uint64_t time_ps);
  // What the instruction's graph node has done so far (the units add their
  // work as they execute it); nullptr for a node the program does not name.
  NodeProfile* node_profile(const Instruction& instruction);

  CoreContext& context_;

 private:
  void run();
  void fire_completions();
  void acquire(const SemOp& op);
  void attribute_wait(const Semaphore& sem, uint64_t from_ps, uint64_t to_ps);
  // Why a wait on `sem` over [from, to) lasted: what its producer did meanwhile.
  [[nodiscard]] std::vector<Segment> wait_causes(const Semaphore& sem, uint64_t from_ps,
                                                 uint64_t to_ps) const;

  struct Pending {
    uint64_t time_ps;
    uint64_t seq;
    const Instruction* instruction;
    bool operator>(const Pending& o) const {
      return time_ps != o.time_ps ? time_ps > o.time_ps : seq > o.seq;
    }
  };

  Queue queue_;
  const Instructions& program_;
  uint64_t clock_ps_;
  ActivityLog log_;
  ActivityLog blocked_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  uint64_t seq_ = 0;
  sc_core::sc_event completion_event_;
  uint64_t notified_ps_ = UINT64_MAX;  // time of the pending notification
  size_t executed_ = 0;
  bool finished_ = false;
  uint64_t finish_ps_ = 0;
  uint64_t first_issue_ps_ = UINT64_MAX;
  uint64_t last_completion_ps_ = 0;
  uint64_t waiting_since_ps_ = UINT64_MAX;  // start of the current wait
  uint64_t inputs_ready_ps_ = 0;
  uint32_t kernel_ = 0;  // kernel by kernel: the node this queue last started
  const SemOp* waiting_on_ = nullptr;
  TraceSink* trace_ = nullptr;
  std::unordered_map<const Instruction*, uint64_t> issued_ps_;  // traced: when each was issued
};

}  // namespace npusim::arch

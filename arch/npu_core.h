// One NPU core: the three queues (DMA, matrix, vector) over its part of the
// program (Program.cores[core]), sharing the program's semaphores with the
// other cores. Bind `dma().socket` to a memory model.
#pragma once

#include <exception>
#include <memory>
#include <systemc>
#include <vector>

#include "arch/dma_engine.h"
#include "arch/isa.pb.h"
#include "arch/matrix_unit.h"
#include "arch/semaphores.h"
#include "arch/vector_unit.h"

namespace npusim::arch {

struct CoreConfig {
  sc_core::sc_time clock;
  DmaConfig dma;
  MatrixConfig matrix;
  uint32_t vector_lanes = 128;
  // Where the units register their resources and record their work and
  // stall time (null: not kept).
  ResourceLedger* ledger = nullptr;
  // Kernel by kernel (ExecutionConfig): ops do not overlap, and each starts
  // launch_gap after the one before has ended.
  bool kernel_by_kernel = false;
  sc_core::sc_time launch_gap = sc_core::SC_ZERO_TIME;
  // Executes the program with data beside the timing (null: timing only).
  FunctionalCore* functional = nullptr;
  // Several cores (sim/system.proto Topology): this one's index, the
  // semaphores they share (null: its own) and the network their sends take.
  uint32_t core = 0;
  SemaphoreBank* shared_semaphores = nullptr;
  ChipNetwork* network = nullptr;
};

class NpuCore : public sc_core::sc_module {
 public:
  NpuCore(const sc_core::sc_module_name& name, const Program& program, const CoreConfig& config);

  [[nodiscard]] DmaEngine& dma() { return *dma_; }
  [[nodiscard]] const DmaEngine& dma() const { return *dma_; }
  [[nodiscard]] const MatrixUnit& matrix() const { return *matrix_; }
  [[nodiscard]] const VectorUnit& vector() const { return *vector_; }
  [[nodiscard]] const Engine* engine(Queue queue) const;
  // Reports every unit's activity and instructions to `sink`.
  void set_trace(TraceSink* sink);
  // Calls `report` now and then while running (every 1024 instructions of a
  // queue), for a progress display.
  void set_progress(std::function<void()> report) { context_.progress = std::move(report); }
  // Instructions the queues have issued so far, and in all.
  [[nodiscard]] uint64_t instructions_issued() const;
  [[nodiscard]] uint64_t instructions() const { return instructions_; }
  // Per program node: what its instructions did (complete after the run).
  [[nodiscard]] const std::vector<NodeProfile>& profile() const { return profile_; }
  [[nodiscard]] bool finished() const;
  // Notified as each queue finishes (finished() says whether all have).
  [[nodiscard]] const sc_core::sc_event& queue_finished() const { return queue_finished_; }
  // When the last unit finished, ps.
  [[nodiscard]] uint64_t finish_ps() const;
  // The UserError that stopped the run early (CoreContext::fail), or null.
  [[nodiscard]] std::exception_ptr error() const { return context_.error; }

 private:
  std::unique_ptr<SemaphoreBank> own_semaphores_;  // unless shared
  SemaphoreBank* semaphores_;
  std::unique_ptr<KernelBarrier> kernels_;
  std::vector<NodeProfile> profile_;
  uint64_t instructions_ = 0;
  CoreContext context_;
  sc_core::sc_event queue_finished_;
  std::unique_ptr<DmaEngine> dma_;
  std::unique_ptr<MatrixUnit> matrix_;
  std::unique_ptr<VectorUnit> vector_;
};

}  // namespace npusim::arch

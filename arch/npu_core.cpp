#include "arch/npu_core.h"

#include <algorithm>

namespace npusim::arch {

NpuCore::NpuCore(const sc_core::sc_module_name& name, const Program& program,
                 const CoreConfig& config)
    : sc_core::sc_module(name),
      own_semaphores_(config.shared_semaphores == nullptr ? std::make_unique<SemaphoreBank>(program)
                                                          : nullptr),
      semaphores_(config.shared_semaphores != nullptr ? config.shared_semaphores
                                                      : own_semaphores_.get()) {
  context_.semaphores = semaphores_;
  profile_.resize(static_cast<size_t>(program.nodes_size()));
  const auto& core = program.cores(static_cast<int>(config.core));
  instructions_ = static_cast<uint64_t>(core.dma_size() + core.matrix_size() + core.vector_size());
  context_.core = config.core;
  context_.network = config.network;
  context_.profile = &profile_;
  context_.finished = &queue_finished_;
  context_.clock = config.clock;
  context_.ledger = config.ledger;
  context_.functional = config.functional;
  if (config.kernel_by_kernel) {
    kernels_ =
        std::make_unique<KernelBarrier>(core, program.nodes_size(), config.launch_gap.value());
    context_.kernels = kernels_.get();
  }
  context_.engine = [this](Queue q) { return engine(q); };
  dma_ = std::make_unique<DmaEngine>("dma", program, core.dma(), context_, config.dma);
  matrix_ = std::make_unique<MatrixUnit>("matrix", core.matrix(), context_, config.matrix);
  vector_ = std::make_unique<VectorUnit>("vector", core.vector(), context_, config.vector_lanes);
  context_.prune = [this] {
    uint64_t horizon = UINT64_MAX;
    for (Engine* e : {static_cast<Engine*>(dma_.get()), static_cast<Engine*>(matrix_.get()),
                      static_cast<Engine*>(vector_.get())}) {
      horizon = std::min(horizon, e->horizon_ps());
    }
    for (Engine* e : {static_cast<Engine*>(dma_.get()), static_cast<Engine*>(matrix_.get()),
                      static_cast<Engine*>(vector_.get())}) {
      e->log().prune(horizon);
      e->blocked().prune(horizon);
    }
  };
}

uint64_t NpuCore::instructions_issued() const {
  return dma_->executed() + matrix_->executed() + vector_->executed();
}

void NpuCore::set_trace(TraceSink* sink) {
  dma_->set_trace(sink);
  matrix_->set_trace(sink);
  vector_->set_trace(sink);
  if (sink == nullptr) {
    semaphores_->observe_occupancy(nullptr);
  } else {
    semaphores_->observe_occupancy(
        [sink](uint64_t bytes) { sink->scratchpad(sc_core::sc_time_stamp().value(), bytes); });
  }
}

const Engine* NpuCore::engine(Queue queue) const {
  switch (queue) {
    case DMA:
      return dma_.get();
    case MATRIX:
      return matrix_.get();
    case VECTOR:
      return vector_.get();
    default:
      return nullptr;
  }
}

bool NpuCore::finished() const {
  return dma_->finished() && matrix_->finished() && vector_->finished();
}

uint64_t NpuCore::finish_ps() const {
  return std::max({dma_->finish_ps(), matrix_->finish_ps(), vector_->finish_ps()});
}

}  // namespace npusim::arch

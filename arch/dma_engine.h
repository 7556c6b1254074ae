// The DMA engine: a TLM-2.0 initiator. Each transfer is split into memory
// transactions of at most `max_request_bytes` (never crossing a row of the
// 2-D pattern); up to `outstanding` are in flight at once, across instruction
// boundaries, so the next descriptor starts while the last one drains.
// Timing is loosely timed: requests carry their issue time as the TLM delay
// and the memory answers with their completion time; the queue thread
// synchronises with the kernel once per instruction. Requests also pass
// through the scratchpad's DMA port, which moves spm_bytes_per_cycle.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <array>
#include <cstdint>
#include <queue>
#include <tlm>
#include <vector>

#include "arch/engine.h"

namespace npusim::arch {

struct DmaConfig {
  uint32_t outstanding = 64;
  uint32_t max_request_bytes = 2048;
  uint64_t spm_bytes_per_cycle = 2048;  // the scratchpad's DMA port
};

struct DmaStats {
  // Indexed by TensorClass.
  std::array<uint64_t, 4> read_bytes{};
  std::array<uint64_t, 4> written_bytes{};
  std::array<uint64_t, 4> unique_read_bytes{};
  uint64_t transactions = 0;
};

class DmaEngine : public Engine {
 public:
  tlm_utils::simple_initiator_socket<DmaEngine> socket;

  DmaEngine(const sc_core::sc_module_name& name, const Program& program, const Instructions& queue,
            CoreContext& context, const DmaConfig& config);

  [[nodiscard]] const DmaStats& stats() const { return stats_; }

 protected:
  void execute(const Instruction& instruction) override;

 private:
  const Program& program_;
  DmaConfig config_;
  DmaStats stats_;
  std::vector<bool> tensor_read_;
  uint64_t stores_done_ps_ = 0;  // completion of the latest store issued
  double spm_port_free_ps_ = 0;  // when the scratchpad port can take the next request
  double spm_ps_per_byte_;
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> in_flight_;
  tlm::tlm_generic_payload payload_;
  std::vector<unsigned char> data_;  // timing-only model: contents unused
};

}  // namespace npusim::arch

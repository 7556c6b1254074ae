#include "arch/dma_engine.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace npusim::arch {

DmaEngine::DmaEngine(const sc_core::sc_module_name& name, const Program& program,
                     const Instructions& queue, CoreContext& context, const DmaConfig& config)
    : Engine(name, DMA, queue, context),
      socket("socket"),
      program_(program),
      config_(config),
      tensor_read_(static_cast<size_t>(program.tensors_size()), false),
      spm_ps_per_byte_(static_cast<double>(context.clock.value()) /
                       static_cast<double>(config.spm_bytes_per_cycle)),
      data_(config.max_request_bytes) {
  payload_.set_data_ptr(data_.data());
  payload_.set_streaming_width(config.max_request_bytes);
  payload_.set_byte_enable_ptr(nullptr);
  payload_.set_dmi_allowed(false);
}

void DmaEngine::execute(const Instruction& instruction) {
  const DmaOp& op = instruction.dma();
  const bool load = op.direction() == DmaOp::LOAD;
  const size_t cls = static_cast<size_t>(op.tensor_class());
  const uint64_t now = now_ps();
  uint64_t local = now;  // this engine's local time (temporal decoupling)
  if (op.fence()) local = std::max(local, stores_done_ps_);
  if (load && op.tensor() < tensor_read_.size() && !tensor_read_[op.tensor()]) {
    tensor_read_[op.tensor()] = true;
    stats_.unique_read_bytes[cls] += program_.tensors(static_cast<int>(op.tensor())).bytes();
  }
  payload_.set_command(load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
  uint64_t done_max = local;
  for (uint64_t row = 0; row < op.rows(); ++row) {
    const uint64_t base = op.dram_addr() + row * op.dram_stride();
    for (uint64_t offset = 0; offset < op.row_bytes(); offset += config_.max_request_bytes) {
      const auto bytes = static_cast<unsigned>(
          std::min<uint64_t>(config_.max_request_bytes, op.row_bytes() - offset));
      if (in_flight_.size() >= config_.outstanding) {
        local = std::max(local, in_flight_.top());
        in_flight_.pop();
      }
      // The scratchpad port serialises requests at its bandwidth.
      local = std::max(local, static_cast<uint64_t>(std::ceil(spm_port_free_ps_ - 1e-6)));
      spm_port_free_ps_ =
          std::max(spm_port_free_ps_, static_cast<double>(local)) + bytes * spm_ps_per_byte_;
      payload_.set_address(base + offset);
      payload_.set_data_length(bytes);
      payload_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      sc_core::sc_time delay = sc_core::sc_time::from_value(local - now);
      socket->b_transport(payload_, delay);
      if (payload_.is_response_error()) {
        throw std::runtime_error(fmt::format("memory refused {} of {} bytes at 0x{:x}: {}",
                                             load ? "read" : "write", bytes, base + offset,
                                             payload_.get_response_string()));
      }
      const uint64_t done = now + delay.value();
      in_flight_.push(done);
      busy(local, done);
      done_max = std::max(done_max, done);
      if (!load) stores_done_ps_ = std::max(stores_done_ps_, done);
      ++stats_.transactions;
      (load ? stats_.read_bytes : stats_.written_bytes)[cls] += bytes;
    }
  }
  complete_at(done_max, instruction);
  wait_until(local);
}

}  // namespace npusim::arch

#include "arch/dma_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "arch/chip_network.h"
#include "common/address_space.h"
#include "common/error.h"
#include "common/float_cast.h"
#include "memory/pim/pim_request.h"

namespace npusim::arch {

DmaEngine::DmaEngine(const sc_core::sc_module_name& name, const Program& program,
                     const Instructions& queue, CoreContext& context, const DmaConfig& config)
    : Engine(name, DMA, queue, context),
      socket("socket"),
      program_(program),
      config_(config),
      tensor_read_(static_cast<size_t>(program.tensors_size()), 0),
      spm_ps_per_byte_(static_cast<double>(context.clock.value()) /
                       static_cast<double>(config.spm_bytes_per_cycle)),
      data_(config.max_request_bytes) {
  socket.register_nb_transport_bw(this, &DmaEngine::nb_transport_bw);
  const auto clock_ps = static_cast<double>(context.clock.value());
  if (config.requests_per_cycle > 0) ps_per_request_ = clock_ps / config.requests_per_cycle;
  if (ResourceLedger* ledger = context.ledger) {
    port_ = ledger->add_resource(
        {"scratchpad DMA port", ResourcePath::Memory, "B",
         static_cast<double>(config.spm_bytes_per_cycle) / clock_ps,
         fmt::format("banks x bank_width_bytes = {} B per cycle", config.spm_bytes_per_cycle), ""});
    slots_column_ = ledger->add_resource(
        {"DMA slots", ResourcePath::Memory, "slot-ps", static_cast<double>(config.outstanding),
         fmt::format("{} requests in flight, each held about its unloaded latency",
                     config.outstanding),
         ""});
    if (config.outstanding_bytes > 0) {
      bytes_column_ = ledger->add_resource(
          {"DMA bytes in flight", ResourcePath::Memory, "byte-ps",
           static_cast<double>(config.outstanding_bytes),
           fmt::format("{} bytes in flight, each held about its request's unloaded latency",
                       config.outstanding_bytes),
           ""});
    }
    if (config.requests_per_cycle > 0) {
      issue_ = ledger->add_resource(
          {"DMA issue", ResourcePath::Memory, "requests", config.requests_per_cycle / clock_ps,
           fmt::format("{} requests per cycle", config.requests_per_cycle), ""});
    }
  }
  slots_ = memory::PayloadSlots<Slot>(config.outstanding);
  for (uint32_t i = 0; i < config.outstanding; ++i) {
    Slot& slot = slots_[i];
    slot.set_data_ptr(data_.data());
    slot.set_byte_enable_ptr(nullptr);
    slot.set_dmi_allowed(false);
    free_.push_back(&slot);
  }
}

void DmaEngine::execute(const Instruction& instruction) {
  if (instruction.has_pim()) {
    execute_pim(instruction);
    return;
  }
  if (instruction.has_send()) {
    execute_send(instruction);
    return;
  }
  const DmaOp& op = instruction.dma();
  if (pims_in_flight_ > 0) wait_for_spm(op.spm_addr(), op.rows() * op.row_bytes(), false);
  if (op.fence()) wait_for_stores();  // read after write through memory
  if (op.direction() == DmaOp::LOAD) {
    // Bytes of a tensor read beyond its size are re-reads; a tensor read in
    // part (an embedding table) counts the part.
    uint64_t& read = tensor_read_[op.tensor()];
    const uint64_t size = program_.tensors(static_cast<int>(op.tensor())).bytes();
    const uint64_t before = std::min(read, size);
    read += op.rows() * op.row_bytes();
    stats_.unique_read_bytes[op.tensor_class()] += std::min(read, size) - before;
  }
  if (NodeProfile* p = node_profile(instruction)) {
    (op.direction() == DmaOp::LOAD ? p->bytes_read : p->bytes_written) +=
        op.rows() * op.row_bytes();
  }
  transfers_.push_back({&instruction, 0, false});
  current_ = &op;
  row_ = offset_ = 0;
  pump();
  while (current_ != nullptr) sc_core::wait(issued_event_);
}

void DmaEngine::wait_for_stores() {
  while (stores_in_flight_ > 0) sc_core::wait(response_event_);
}

void DmaEngine::wait_for_spm(uint64_t spm, uint64_t bytes, bool reads) {
  auto blocked = [&] {
    for (const Transfer& t : transfers_) {
      if (t.outstanding == 0 && t.ready_ps <= now_ps()) continue;
      const Instruction& ins = *t.instruction;
      if (ins.has_send()) continue;  // it read its bytes when it issued
      uint64_t begin = 0, size = 0;
      if (ins.has_pim()) {
        begin = ins.pim().spm_out();
        size = uint64_t{ins.pim().vectors()} * ins.pim().out_rows() * 2;
      } else if (reads && ins.dma().direction() == DmaOp::LOAD) {
        begin = ins.dma().spm_addr();
        size = ins.dma().rows() * ins.dma().row_bytes();
      }
      if (size > 0 && begin < spm + bytes && spm < begin + size) return true;
    }
    return false;
  };
  while (blocked()) {
    spm_waiting_ = true;
    // A PIM GEMV's results are written after its response, up to ready_ps.
    uint64_t next = UINT64_MAX;
    for (const Transfer& t : transfers_) {
      if (t.outstanding == 0 && t.ready_ps > now_ps()) next = std::min(next, t.ready_ps);
    }
    if (next != UINT64_MAX) {
      sc_core::wait(sc_core::sc_time::from_value(next - now_ps()), spm_event_);
    } else {
      sc_core::wait(spm_event_);
    }
  }
  spm_waiting_ = false;
}

double DmaEngine::next_issue() {
  const double issue = std::max(issue_free_ps_, static_cast<double>(now_ps()));
  issue_free_ps_ = issue + ps_per_request_;
  return issue;
}

std::optional<DmaEngine::PortSpan> DmaEngine::port(double from_ps, uint64_t bytes) {
  const double start = std::max(spm_port_free_ps_, from_ps);
  spm_port_free_ps_ = start + static_cast<double>(bytes) * spm_ps_per_byte_;
  // Times are doubles for the rates' fractions of a ps. Past 2^64 ps (213
  // days) they no longer fit the simulation's clock (a request rate of 1e-300
  // per cycle gets there). The port frees last: if it fits, all do.
  if (!fits_in<uint64_t>(spm_port_free_ps_)) {
    context_.fail(UserError(fmt::format(
        "core.dma: a request would leave the scratchpad port at {:.3g} ps, past the 2^64 ps a "
        "simulation can reach (core.dma.requests_per_cycle, the scratchpad's banks and width)",
        spm_port_free_ps_)));
    stopped_ = true;
    return std::nullopt;
  }
  if (ResourceLedger* ledger = context_.ledger) {
    ledger->add(port_, static_cast<uint64_t>(start), static_cast<uint64_t>(spm_port_free_ps_),
                static_cast<double>(bytes));
  }
  return PortSpan{start, spm_port_free_ps_};
}

void DmaEngine::execute_pim(const Instruction& instruction) {
  const PimOp& op = instruction.pim();
  const uint32_t m = memory_of(op.dram_addr());
  if (m >= config_.memories.size() || !config_.memories[m].pim) {
    context_.fail(UserError(fmt::format(
        "core.dma: a PIM GEMV at 0x{:x} addresses memory {}, which is not a PIM memory: the "
        "program was compiled for another system",
        op.dram_addr(), m)));
    stopped_ = true;
    return;
  }
  const uint64_t in_bytes = uint64_t{op.vectors()} * op.in_cols() * 2;
  const uint64_t out_bytes = uint64_t{op.vectors()} * op.out_rows() * 2;
  if (op.fence()) wait_for_stores();  // reads what earlier stores wrote (a KV cache's appends)
  // Its inputs must be in the scratchpad, its results' bytes free.
  wait_for_spm(op.spm_in(), in_bytes, true);
  wait_for_spm(op.spm_out(), out_bytes, false);
  while (free_.empty()) {
    spm_waiting_ = true;
    sc_core::wait(spm_event_);
  }
  spm_waiting_ = false;
  if (NodeProfile* p = node_profile(instruction)) p->bytes_read += out_bytes;
  // The inputs leave through the scratchpad port; the request enters memory then.
  const uint64_t now = now_ps();
  const std::optional<PortSpan> sent = port(next_issue(), in_bytes);
  if (!sent) return;
  const auto arrival = static_cast<uint64_t>(std::ceil(sent->end - 1e-6));
  transfers_.push_back({&instruction, 1, true, 0});
  Slot* slot = free_.back();
  free_.pop_back();
  slot->transfer = first_transfer_ + transfers_.size() - 1;
  slot->store = false;
  slot->pim_out_bytes = out_bytes;
  tlm::tlm_generic_payload& p = *slot;
  auto* gemv = new memory::pim::PimGemv;  // freed by release_extension or the payload
  gemv->out_rows = op.out_rows();
  gemv->in_cols = op.in_cols();
  gemv->element_bytes = 2;
  gemv->vectors = op.vectors();
  gemv->blocks = std::max(op.blocks(), 1u);
  gemv->block = op.block();
  p.set_extension(gemv);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(op.dram_addr());
  p.set_data_length(static_cast<unsigned>(std::min<uint64_t>(out_bytes, UINT32_MAX)));
  p.set_streaming_width(p.get_data_length());
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  if (in_flight_++ == 0) log().open(arrival, Activity::Busy);
  ++pims_in_flight_;
  ++stats_.transactions;
  stats_.written_bytes[ACTIVATION] += in_bytes;
  stats_.read_bytes[ACTIVATION] += out_bytes;
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  sc_core::sc_time delay = sc_core::sc_time::from_value(arrival - now);
  if (socket->nb_transport_fw(p, phase, delay) != tlm::TLM_ACCEPTED) {
    throw std::runtime_error(
        fmt::format("memory did not accept a PIM GEMV at 0x{:x}", op.dram_addr()));
  }
}

void DmaEngine::execute_send(const Instruction& instruction) {
  const SendOp& op = instruction.send();
  if (context_.network == nullptr || op.dest_core() >= context_.network->cores()) {
    context_.fail(UserError(
        fmt::format("core.dma: a send to core {}, which this system does not have: the program was "
                    "compiled for another system",
                    op.dest_core())));
    stopped_ = true;
    return;
  }
  // Its bytes must be in the scratchpad: earlier loads into them complete.
  wait_for_spm(op.spm_addr(), op.bytes(), true);
  // They leave through the scratchpad port and the network; it completes
  // (gives its signals, perhaps the destination's) when the last has landed.
  const std::optional<PortSpan> read = port(next_issue(), op.bytes());
  if (!read) return;
  const uint64_t landed = context_.network->send(static_cast<uint64_t>(std::ceil(read->start)),
                                                 context_.core, op.dest_core(), op.bytes());
  transfers_.push_back(
      {&instruction, 0, true, std::max(landed, static_cast<uint64_t>(std::ceil(read->end)))});
  stats_.sent_bytes += op.bytes();
  retire();
}

void DmaEngine::pump() {
  while (current_ != nullptr && !free_.empty() && !stopped_) {
    const DmaOp& op = *current_;
    const auto bytes = static_cast<unsigned>(
        std::min<uint64_t>(config_.max_request_bytes, op.row_bytes() - offset_));
    // Validation keeps outstanding_bytes >= max_request_bytes: an idle
    // engine always has room for a request.
    if (config_.outstanding_bytes > 0 && bytes_in_flight_ + bytes > config_.outstanding_bytes) {
      break;
    }
    send(op, op.dram_addr() + row_ * op.dram_stride() + offset_, bytes);
    offset_ += bytes;
    if (offset_ == op.row_bytes()) {
      offset_ = 0;
      if (++row_ == op.rows()) {
        current_ = nullptr;
        transfers_.back().issued = true;
        retire();
        issued_event_.notify(sc_core::SC_ZERO_TIME);
      }
    }
  }
}

void DmaEngine::send(const DmaOp& op, uint64_t address, unsigned bytes) {
  // The scratchpad port serialises requests at its bandwidth: a request
  // enters memory when the port starts taking it. The engine issues at most
  // requests_per_cycle.
  const uint64_t now = now_ps();
  const double issue = next_issue();
  const std::optional<PortSpan> span = port(issue, bytes);
  if (!span) return;
  const auto arrival = static_cast<uint64_t>(std::ceil(span->start - 1e-6));
  if (ResourceLedger* ledger = context_.ledger) {
    // Memory i's estimate for a request to its addresses.
    const DmaConfig::MemoryPath& path =
        config_.memories[std::min<size_t>(memory_of(address), config_.memories.size() - 1)];
    const double held = path.unloaded_latency_ps + bytes * path.ps_per_byte;
    const uint64_t until = arrival + static_cast<uint64_t>(held);
    if (config_.outstanding_bytes > 0) {
      ledger->add(arrival, until, slots_column_, held, bytes_column_, held * bytes);
    } else {
      ledger->add(slots_column_, arrival, until, held);
    }
    if (ps_per_request_ > 0) ledger->add_at(issue_, static_cast<uint64_t>(issue), 1.0);
  }

  const bool load = op.direction() == DmaOp::LOAD;
  Slot* slot = free_.back();
  free_.pop_back();
  slot->transfer = first_transfer_ + transfers_.size() - 1;
  slot->store = !load;
  tlm::tlm_generic_payload& p = *slot;
  p.set_command(load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
  p.set_address(address);
  p.set_data_length(bytes);
  p.set_streaming_width(bytes);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  if (op.has_pim()) {                         // written where the PIM layout puts each element
    auto* write = new memory::pim::PimWrite;  // freed by release_extension or the payload
    write->region = local_address(op.pim().region());
    write->out_rows = op.pim().out_rows();
    write->in_cols = op.pim().in_cols();
    write->blocks = std::max(op.pim().blocks(), 1u);
    write->outputs_major = op.pim().outputs_major();
    p.set_extension(write);
  }
  if (in_flight_++ == 0) log().open(arrival, Activity::Busy);
  if (!load) ++stores_in_flight_;
  bytes_in_flight_ += bytes;
  slot->bytes = bytes;
  ++transfers_.back().outstanding;
  ++stats_.transactions;
  (load ? stats_.read_bytes : stats_.written_bytes)[op.tensor_class()] += bytes;

  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  sc_core::sc_time delay = sc_core::sc_time::from_value(arrival - now);
  const tlm::tlm_sync_enum status = socket->nb_transport_fw(p, phase, delay);
  if (status != tlm::TLM_ACCEPTED) {
    throw std::runtime_error(fmt::format("memory did not accept a request at 0x{:x}", address));
  }
}

tlm::tlm_sync_enum DmaEngine::nb_transport_bw(tlm::tlm_generic_payload& trans,
                                              tlm::tlm_phase& phase, sc_core::sc_time&) {
  if (phase != tlm::BEGIN_RESP) throw std::logic_error("dma: unexpected TLM phase");
  if (trans.is_response_error()) {
    throw std::runtime_error(fmt::format("memory refused {} bytes at 0x{:x}: {}",
                                         trans.get_data_length(), trans.get_address(),
                                         trans.get_response_string()));
  }
  Slot* slot = slots_.of(trans);
  if (slot == nullptr) throw std::logic_error("dma: response for an unknown request");
  Transfer& transfer = transfers_[slot->transfer - first_transfer_];
  --transfer.outstanding;
  bytes_in_flight_ -= slot->bytes;
  slot->bytes = 0;
  if (slot->pim_out_bytes > 0) {
    // The results come in through the scratchpad port.
    const std::optional<PortSpan> written =
        port(static_cast<double>(now_ps()), slot->pim_out_bytes);
    transfer.ready_ps = written ? static_cast<uint64_t>(std::ceil(written->end)) : now_ps();
    slot->pim_out_bytes = 0;
    trans.release_extension<memory::pim::PimGemv>();
    --pims_in_flight_;
  }
  if (slot->store) {
    --stores_in_flight_;
    if (trans.get_extension<memory::pim::PimWrite>() != nullptr) {
      trans.release_extension<memory::pim::PimWrite>();
    }
  }
  if (--in_flight_ == 0) log().close(now_ps());
  free_.push_back(slot);
  retire();
  pump();
  // Only a fence (waiting for the stores) and drain() (for everything) wait.
  if (in_flight_ == 0 || (slot->store && stores_in_flight_ == 0)) {
    response_event_.notify(sc_core::SC_ZERO_TIME);
  }
  if (spm_waiting_) spm_event_.notify(sc_core::SC_ZERO_TIME);
  return tlm::TLM_COMPLETED;
}

void DmaEngine::retire() {
  while (!transfers_.empty() && transfers_.front().issued && transfers_.front().outstanding == 0) {
    complete_at(std::max(now_ps(), transfers_.front().ready_ps), *transfers_.front().instruction);
    transfers_.pop_front();
    ++first_transfer_;
  }
}

void DmaEngine::drain() {
  while (in_flight_ > 0) sc_core::wait(response_event_);
  Engine::drain();
}

}  // namespace npusim::arch

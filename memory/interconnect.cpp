#include "memory/interconnect.h"

#include <fmt/format.h>

#include <stdexcept>

#include "common/address_space.h"

namespace npusim::memory {

Interconnect::Interconnect(const sc_core::sc_module_name& name,
                           const std::vector<const LinkConfig*>& links)
    : sc_core::sc_module(name),
      socket("socket"),
      memories("memories"),
      ports_(links.size()),
      responses_("responses", [this](tlm::tlm_generic_payload& trans) { deliver(trans); }) {
  socket.register_nb_transport_fw(this, &Interconnect::nb_transport_fw);
  memories.register_nb_transport_bw(this, &Interconnect::nb_transport_bw);
  uint32_t lane = 0;
  for (size_t i = 0; i < links.size(); ++i) {
    if (links[i] == nullptr) continue;
    ports_[i].link = std::make_unique<Link>(*links[i]);
    ports_[i].lane = lane;
    lane += 2;
  }
}

void Interconnect::register_resources(ResourceLedger& ledger) {
  for (Port& p : ports_) {
    if (p.link != nullptr) p.link->register_resources(ledger);
  }
}

std::vector<std::string> Interconnect::trace_lanes() const {
  std::vector<std::string> lanes;
  for (const Port& p : ports_) {
    if (p.link == nullptr) continue;
    lanes.push_back(p.link->config().name() + " to memory");
    lanes.push_back(p.link->config().name() + " from memory");
  }
  return lanes;
}

tlm::tlm_sync_enum Interconnect::nb_transport_fw(tlm::tlm_generic_payload& trans,
                                                 tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  if (phase != tlm::BEGIN_REQ) throw std::logic_error("interconnect: unexpected TLM phase");
  const uint32_t m = memory_of(trans.get_address());
  if (m >= ports_.size()) {
    // Programs are checked against the memories' ranges before they run.
    throw std::logic_error(
        fmt::format("interconnect: no memory at address 0x{:x}", trans.get_address()));
  }
  Port& p = ports_[m];
  const bool write = trans.is_write();
  (write ? p.stats.written_bytes : p.stats.read_bytes) += trans.get_data_length();
  ++p.stats.transactions;
  trans.set_address(local_address(trans.get_address()));
  const uint64_t now = sc_core::sc_time_stamp().value();
  uint64_t arrival = now + delay.value();
  if (p.link != nullptr) {
    const uint64_t payload = write ? trans.get_data_length() : 0;
    arrival = p.link->to_memory(arrival, payload);
    if (sink_ != nullptr && payload + p.link->config().header_bytes() > 0) {
      sink_->transferred(first_lane_ + p.lane, arrival, payload + p.link->config().header_bytes());
    }
  }
  sc_core::sc_time forward = sc_core::sc_time::from_value(arrival - now);
  return memories[static_cast<int>(m)]->nb_transport_fw(trans, phase, forward);
}

tlm::tlm_sync_enum Interconnect::nb_transport_bw(int memory, tlm::tlm_generic_payload& trans,
                                                 tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  if (phase != tlm::BEGIN_RESP) throw std::logic_error("interconnect: unexpected TLM phase");
  const auto m = static_cast<uint32_t>(memory);
  trans.set_address(memory_base(m) + trans.get_address());
  Port& p = ports_[m];
  const uint64_t at = sc_core::sc_time_stamp().value() + delay.value();
  if (p.link == nullptr) return socket->nb_transport_bw(trans, phase, delay);
  const uint64_t payload = trans.is_read() ? trans.get_data_length() : 0;
  const uint64_t back = p.link->from_memory(at, payload);
  if (sink_ != nullptr) {
    sink_->transferred(first_lane_ + p.lane + 1, back, payload + p.link->config().header_bytes());
  }
  responses_.push(trans, back);
  return tlm::TLM_COMPLETED;
}

void Interconnect::deliver(tlm::tlm_generic_payload& trans) {
  tlm::tlm_phase phase = tlm::BEGIN_RESP;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  socket->nb_transport_bw(trans, phase, delay);
}

}  // namespace npusim::memory

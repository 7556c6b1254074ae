#include "sim/core_crossbar.h"

#include <stdexcept>

namespace npusim::sim {

CoreCrossbar::CoreCrossbar(const sc_core::sc_module_name& name, arch::ChipNetwork& network,
                           uint32_t first_core, uint32_t cores_bound)
    : sc_core::sc_module(name),
      cores("cores"),
      memory("memory"),
      network_(network),
      first_core_(first_core),
      single_core_(cores_bound == 1),
      responses_("responses", [this](tlm::tlm_generic_payload& trans) { deliver(trans); }) {
  cores.register_nb_transport_fw(this, &CoreCrossbar::nb_transport_fw);
  memory.register_nb_transport_bw(this, &CoreCrossbar::nb_transport_bw);
}

tlm::tlm_sync_enum CoreCrossbar::nb_transport_fw(int core, tlm::tlm_generic_payload& trans,
                                                 tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  if (phase != tlm::BEGIN_REQ) throw std::logic_error("core crossbar: unexpected TLM phase");
  if (!single_core_) FromCore::set(trans, core);
  const uint64_t now = sc_core::sc_time_stamp().value();
  const uint64_t through =
      network_.to_memory(now + delay.value(), first_core_ + static_cast<uint32_t>(core),
                         trans.is_write() ? trans.get_data_length() : 0, trans.get_address());
  sc_core::sc_time forward = sc_core::sc_time::from_value(through - now);
  return memory->nb_transport_fw(trans, phase, forward);
}

tlm::tlm_sync_enum CoreCrossbar::nb_transport_bw(tlm::tlm_generic_payload& trans,
                                                 tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  if (phase != tlm::BEGIN_RESP) throw std::logic_error("core crossbar: unexpected TLM phase");
  const int core = core_of(trans);
  const uint64_t back = network_.from_memory(
      sc_core::sc_time_stamp().value() + delay.value(), first_core_ + static_cast<uint32_t>(core),
      trans.is_read() ? trans.get_data_length() : 0, trans.get_address());
  responses_.push(trans, back);
  return tlm::TLM_COMPLETED;
}

void CoreCrossbar::deliver(tlm::tlm_generic_payload& trans) {
  const int core = core_of(trans);
  tlm::tlm_phase phase = tlm::BEGIN_RESP;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  cores[core]->nb_transport_bw(trans, phase, delay);
}

}  // namespace npusim::sim

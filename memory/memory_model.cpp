#include "memory/memory_model.h"

#include <stdexcept>

namespace npusim::memory {

MemoryModel::MemoryModel(const sc_core::sc_module_name& name)
    : sc_core::sc_module(name),
      socket("socket"),
      responses_("responses", [this](tlm::tlm_generic_payload& trans) {
        if (trans.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE) {
          trans.set_response_status(tlm::TLM_OK_RESPONSE);
        }
        tlm::tlm_phase phase = tlm::BEGIN_RESP;
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        socket->nb_transport_bw(trans, phase, delay);
      }) {
  socket.register_nb_transport_fw(this, &MemoryModel::nb_transport_fw);
}

tlm::tlm_sync_enum MemoryModel::nb_transport_fw(tlm::tlm_generic_payload& trans,
                                                tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  if (phase != tlm::BEGIN_REQ) throw std::logic_error("memory: unexpected TLM phase");
  accept(trans, now_ps() + delay.value());
  return tlm::TLM_ACCEPTED;
}

void MemoryModel::respond(tlm::tlm_generic_payload& trans, uint64_t time_ps) {
  responses_.push(trans, time_ps);
}

}  // namespace npusim::memory

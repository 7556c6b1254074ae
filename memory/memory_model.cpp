#include "memory/memory_model.h"

#include <stdexcept>

namespace npusim::memory {

MemoryModel::MemoryModel(const sc_core::sc_module_name& name)
    : sc_core::sc_module(name), socket("socket") {
  socket.register_nb_transport_fw(this, &MemoryModel::nb_transport_fw);
  SC_METHOD(send_responses);
  sensitive << response_event_;
  dont_initialize();
}

tlm::tlm_sync_enum MemoryModel::nb_transport_fw(tlm::tlm_generic_payload& trans,
                                                tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  if (phase != tlm::BEGIN_REQ) throw std::logic_error("memory: unexpected TLM phase");
  accept(trans, now_ps() + delay.value());
  return tlm::TLM_ACCEPTED;
}

void MemoryModel::respond(tlm::tlm_generic_payload& trans, uint64_t time_ps) {
  const uint64_t now = now_ps();
  if (time_ps < now) time_ps = now;
  responses_.push(time_ps, &trans);
  // One pending kernel notification at a time, for the earliest response.
  if (time_ps < notified_ps_) {
    notified_ps_ = time_ps;
    response_event_.notify(sc_core::sc_time::from_value(time_ps - now));
  }
}

void MemoryModel::send_responses() {
  const uint64_t now = now_ps();
  notified_ps_ = UINT64_MAX;
  while (!responses_.empty() && responses_.top_key() <= now) {
    tlm::tlm_generic_payload* trans = responses_.pop();
    if (trans->get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE) {
      trans->set_response_status(tlm::TLM_OK_RESPONSE);
    }
    tlm::tlm_phase phase = tlm::BEGIN_RESP;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket->nb_transport_bw(*trans, phase, delay);
  }
  if (!responses_.empty() && responses_.top_key() < notified_ps_) {
    notified_ps_ = responses_.top_key();
    response_event_.notify(sc_core::sc_time::from_value(notified_ps_ - now));
  }
}

}  // namespace npusim::memory

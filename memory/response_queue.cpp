#define SC_INCLUDE_DYNAMIC_PROCESSES  // sc_spawn

#include "memory/response_queue.h"

namespace npusim::memory {

ResponseQueue::ResponseQueue(const char* name, Deliver deliver) : deliver_(std::move(deliver)) {
  sc_core::sc_spawn_options options;
  options.spawn_method();
  options.set_sensitivity(&event_);
  options.dont_initialize();
  sc_core::sc_spawn([this] { send(); }, name, &options);
}

void ResponseQueue::push(tlm::tlm_generic_payload& trans, uint64_t time_ps) {
  const uint64_t now = sc_core::sc_time_stamp().value();
  if (time_ps < now) time_ps = now;
  responses_.push(time_ps, &trans);
  // (While send() delivers, it notifies once when done: a response pushed
  // from a delivery, notified here, would have that notification cancelled
  // by send()'s for an earlier one, and a cancelled notification stays in
  // the kernel's queue until its time.)
  if (!sending_ && time_ps < notified_ps_) {
    notified_ps_ = time_ps;
    event_.notify(sc_core::sc_time::from_value(time_ps - now));
  }
}

void ResponseQueue::send() {
  const uint64_t now = sc_core::sc_time_stamp().value();
  notified_ps_ = UINT64_MAX;
  sending_ = true;
  while (!responses_.empty() && responses_.top_key() <= now) deliver_(*responses_.pop());
  sending_ = false;
  if (!responses_.empty() && responses_.top_key() < notified_ps_) {
    notified_ps_ = responses_.top_key();
    event_.notify(sc_core::sc_time::from_value(notified_ps_ - now));
  }
}

}  // namespace npusim::memory

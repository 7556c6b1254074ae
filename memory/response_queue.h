// Responses to send later: a target (a memory model, the interconnect)
// queues each transaction's response for the time it completes, and the
// queue hands them, in time order, to `deliver` at those times. One kernel
// notification is pending at a time, for the earliest response, so a
// stream of responses costs one event each, not one per queued response.
#pragma once

#include <cstdint>
#include <functional>
#include <systemc>
#include <tlm>

#include "common/radix_heap.h"

namespace npusim::memory {

class ResponseQueue {
 public:
  using Deliver = std::function<void(tlm::tlm_generic_payload&)>;
  // Call while the owning module is being constructed (it spawns a process).
  ResponseQueue(const char* name, Deliver deliver);

  // `trans` completes at `time_ps` (>= now; earlier is taken as now).
  void push(tlm::tlm_generic_payload& trans, uint64_t time_ps);

 private:
  void send();

  Deliver deliver_;
  RadixHeap<tlm::tlm_generic_payload*> responses_;  // by time, ps
  sc_core::sc_event event_;
  uint64_t notified_ps_ = UINT64_MAX;  // time of the pending notification
  bool sending_ = false;               // send() is delivering
};

}  // namespace npusim::memory

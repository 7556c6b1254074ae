// The memory subsystem as the NPU sees it: one TLM-2.0 target socket using
// the non-blocking protocol. An initiator sends BEGIN_REQ with the request's
// arrival as the annotated delay; the model answers TLM_ACCEPTED and later
// sends BEGIN_RESP on the backward path at the moment the transfer completes
// (the initiator answers TLM_COMPLETED). Every model (ideal, DRAM) derives from MemoryModel and is
// created through the registry (registry.h) from a MemoryConfig.
#pragma once

#include <tlm_utils/simple_target_socket.h>
#include <cstdint>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "common/resources.h"
#include "memory/memory.pb.h"
#include "memory/response_queue.h"

namespace npusim::memory {

// Where a memory model reports the bytes it moves, for a timeline trace:
// `bytes` finished moving at `end_ps` on `lane` (a stack, or the memory).
class TrafficSink {
 public:
  virtual ~TrafficSink() = default;
  virtual void transferred(uint32_t lane, uint64_t end_ps, uint64_t bytes) = 0;
};

class MemoryModel : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryModel> socket;

  explicit MemoryModel(const sc_core::sc_module_name& name);
  ~MemoryModel() override = default;

  [[nodiscard]] virtual double peak_bandwidth_gbps() const = 0;
  // The model's own counters (DRAM commands, row hits, ...), if it has any.
  virtual void report(MemoryReport* out) const { (void)out; }
  // The energy it spent from time 0 to `seconds` of simulated time, from
  // its own counters (events planned for later are not counted yet).
  virtual void energy(double seconds, MemoryEnergy* out) const {
    (void)seconds;
    (void)out;
  }
  // The lanes it reports traffic on (TrafficSink), and where to report it.
  [[nodiscard]] virtual std::vector<std::string> trace_lanes() const { return {"memory"}; }
  void set_trace(TrafficSink* sink) { traffic_sink_ = sink; }
  // Registers the resources that can cap its throughput (its data bus, row
  // activations, ...) and records their work from now on.
  virtual void register_resources(ResourceLedger& ledger) = 0;
  // Prefixes the names of its resources ("hbm DRAM bus"), for a system of
  // several memories; default none.
  void set_label(std::string label) { label_ = std::move(label); }

 protected:
  TrafficSink* traffic_sink_ = nullptr;

  // A resource's name with the label in front.
  [[nodiscard]] std::string resource_name(const std::string& resource) const {
    return label_.empty() ? resource : label_ + " " + resource;
  }

  // A request arrives at `arrival_ps` (>= now). The model must eventually
  // call respond() for it.
  virtual void accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) = 0;
  // Sends the response for `trans` at `time_ps` (>= now).
  void respond(tlm::tlm_generic_payload& trans, uint64_t time_ps);
  [[nodiscard]] static uint64_t now_ps() { return sc_core::sc_time_stamp().value(); }

 private:
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);

  ResponseQueue responses_;
  std::string label_;
};

}  // namespace npusim::memory

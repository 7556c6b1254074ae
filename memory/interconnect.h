// The interconnect between the NPU and a system's memories: one TLM-2.0
// target socket for the DMA, one initiator binding per memory (in the
// order of their address ranges, common/address_space.h). A request is
// routed by its address to its memory, which sees the address within its
// own range; a memory behind a link (link.h) is reached through it, both
// ways. It counts the bytes each memory moved.
#pragma once

#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "common/resources.h"
#include "memory/link.h"
#include "memory/memory.pb.h"
#include "memory/memory_model.h"
#include "memory/response_queue.h"

namespace npusim::memory {

class Interconnect : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<Interconnect> socket;
  tlm_utils::multi_passthrough_initiator_socket<Interconnect> memories;

  // `links[i]`: memory i's link, if it has one.
  Interconnect(const sc_core::sc_module_name& name, const std::vector<const LinkConfig*>& links);

  void register_resources(ResourceLedger& ledger);
  // The lanes it reports traffic on (its links' directions).
  [[nodiscard]] std::vector<std::string> trace_lanes() const;
  // Reports link traffic on lanes from `first_lane` on.
  void set_trace(TrafficSink* sink, uint32_t first_lane) {
    sink_ = sink;
    first_lane_ = first_lane;
  }

  struct PortStats {
    uint64_t read_bytes = 0, written_bytes = 0, transactions = 0;
  };
  [[nodiscard]] const PortStats& stats(uint32_t memory) const { return ports_[memory].stats; }
  // Memory i's link, or null.
  [[nodiscard]] const Link* link(uint32_t memory) const { return ports_[memory].link.get(); }

 private:
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_bw(int memory, tlm::tlm_generic_payload& trans,
                                     tlm::tlm_phase& phase, sc_core::sc_time& delay);
  void deliver(tlm::tlm_generic_payload& trans);

  struct Port {
    std::unique_ptr<Link> link;
    uint32_t lane = 0;  // its link's first trace lane
    PortStats stats;
  };
  std::vector<Port> ports_;
  ResponseQueue responses_;
  TrafficSink* sink_ = nullptr;
  uint32_t first_lane_ = 0;
};

}  // namespace npusim::memory

// The cores of a chip reaching its memories: a crossbar behind each core's
// port into the chip's network (arch/chip_network.h). A core's request
// crosses its port out (a write's data, a read's header), goes to the
// memories, and its response crosses its port in (a read's data). Cores
// contend at their ports (each its own) and at the memories (shared), so a
// chip's cores together are slower than each alone when either is the wall,
// and the limiter names which. On a 2-D mesh (Topology.on_chip_network)
// requests and responses also cross the mesh links between the core's node
// and the memory's (the network's to_memory / from_memory, by address).
#pragma once

#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <systemc>
#include <tlm>

#include "arch/chip_network.h"
#include "memory/payload_tag.h"
#include "memory/response_queue.h"

namespace npusim::sim {

class CoreCrossbar : public sc_core::sc_module {
 public:
  // Socket i: the chip's core i (its global index first_core + i).
  tlm_utils::multi_passthrough_target_socket<CoreCrossbar> cores;
  tlm_utils::simple_initiator_socket<CoreCrossbar> memory;

  // `cores_bound`: how many cores the chip binds to `cores`.
  CoreCrossbar(const sc_core::sc_module_name& name, arch::ChipNetwork& network, uint32_t first_core,
               uint32_t cores_bound);

 private:
  tlm::tlm_sync_enum nb_transport_fw(int core, tlm::tlm_generic_payload& trans,
                                     tlm::tlm_phase& phase, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  void deliver(tlm::tlm_generic_payload& trans);
  // The core a request in flight came from: carried with it, or 0 on a chip
  // of one core (no extension to look up per request and response: a
  // payload's extensions are a cache miss of their own, 7.5% of an 8-chip
  // tensor-parallel run's time).
  using FromCore = memory::PayloadTag<CoreCrossbar, int>;
  [[nodiscard]] int core_of(const tlm::tlm_generic_payload& trans) const {
    return single_core_ ? 0 : FromCore::of(trans)->value;
  }

  arch::ChipNetwork& network_;
  const uint32_t first_core_;
  const bool single_core_;
  memory::ResponseQueue responses_;
};

}  // namespace npusim::sim

// The DMA engine: a TLM-2.0 initiator on the non-blocking protocol. Each
// transfer is split into memory transactions of at most `max_request_bytes`
// (never crossing a row of the 2-D pattern); up to `outstanding` are in
// flight at once, across instruction boundaries, so the next descriptor
// starts while the last one drains. Requests also pass through the
// scratchpad's DMA port (spm_bytes_per_cycle). Instructions retire in order
// when their last response has arrived. The engine is busy while any request
// is in flight.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <tlm>
#include <vector>

#include "arch/engine.h"
#include "memory/payload_slots.h"

namespace npusim::arch {

struct DmaConfig {
  uint32_t outstanding = 64;
  uint32_t max_request_bytes = 2048;
  uint64_t spm_bytes_per_cycle = 2048;  // the scratchpad's DMA port
  double requests_per_cycle = 0;        // request issue rate; 0: no limit
  uint64_t outstanding_bytes = 0;       // bytes in flight at most; 0: no limit
  // Memory i (common/address_space.h), for requests to its addresses; at
  // least one. A request's latency through an idle memory, estimated:
  // unloaded_latency_ps (the memory's read-latency estimate, through its
  // link) + bytes x ps_per_byte (its peak). By Little's law a request holds
  // its slot about this long at no load, so the slots' busy share is the
  // requests' unloaded latencies over outstanding x time: near 1 when too
  // few slots keep the memory waiting. `pim`: it computes GEMVs (PimOp); a
  // PIM instruction to another memory fails the run.
  struct MemoryPath {
    double unloaded_latency_ps = 0;
    double ps_per_byte = 0;
    bool pim = false;
  };
  std::vector<MemoryPath> memories{MemoryPath{}};
};

struct DmaStats {
  // Indexed by TensorClass.
  std::array<uint64_t, 4> read_bytes{};
  std::array<uint64_t, 4> written_bytes{};
  // Per tensor, its bytes read up to its size: read - unique_read are re-reads.
  std::array<uint64_t, 4> unique_read_bytes{};
  uint64_t transactions = 0;
  uint64_t sent_bytes = 0;  // by sends to other cores
};

class DmaEngine : public Engine {
 public:
  tlm_utils::simple_initiator_socket<DmaEngine> socket;

  DmaEngine(const sc_core::sc_module_name& name, const Program& program, const Instructions& queue,
            CoreContext& context, const DmaConfig& config);

  [[nodiscard]] const DmaStats& stats() const { return stats_; }

 protected:
  void execute(const Instruction& instruction) override;
  void drain() override;

 private:
  struct Transfer {  // one instruction in flight
    const Instruction* instruction;
    uint32_t outstanding = 0;
    bool issued = false;
    uint64_t ready_ps = 0;  // completes no earlier (a PIM GEMV's results written)
  };
  // One request in flight: its payload, with what the response needs
  // (memory/payload_slots.h).
  struct Slot : tlm::tlm_generic_payload {
    uint64_t transfer = 0;  // sequence number of its Transfer
    bool store = false;
    uint64_t pim_out_bytes = 0;  // a PIM GEMV's results, written through the port
    uint32_t bytes = 0;          // a load's or store's, counted in bytes_in_flight_
  };

  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  // Issues the current transfer's next requests while slots are free; called
  // by the queue thread and from each response, so that a saturated stream
  // costs no thread switch per request.
  void pump();
  void send(const DmaOp& op, uint64_t address, unsigned bytes);
  void retire();
  // A PIM GEMV (PimOp): one request carrying memory::pim::PimGemv.
  void execute_pim(const Instruction& instruction);
  // A send (SendOp) to another core, through the chip network.
  void execute_send(const Instruction& instruction);
  // Waits until no earlier unretired transfer touching [spm, spm + bytes)
  // is in flight: a PIM GEMV writing its results there and, when the caller
  // `reads` those bytes (a PIM GEMV's inputs, a send's), a load into them.
  void wait_for_spm(uint64_t spm, uint64_t bytes, bool reads);
  // Waits until every store issued so far has completed (a fence).
  void wait_for_stores();
  // The time the next request may issue (requests_per_cycle), ps.
  double next_issue();
  // Reserves the scratchpad port for `bytes` from `from_ps` (in the ledger
  // too); none, and the run failed, past the 2^64 ps a simulation reaches.
  struct PortSpan {
    double start, end;
  };
  std::optional<PortSpan> port(double from_ps, uint64_t bytes);

  const Program& program_;
  DmaConfig config_;
  DmaStats stats_;
  std::vector<uint64_t> tensor_read_;  // per program tensor: bytes loaded so far
  memory::PayloadSlots<Slot> slots_;   // config_.outstanding of them
  std::vector<Slot*> free_;
  std::deque<Transfer> transfers_;  // unretired, in program order
  uint64_t first_transfer_ = 0;     // sequence number of transfers_.front()
  // The transfer being issued: the next row and offset within it.
  const DmaOp* current_ = nullptr;
  uint64_t row_ = 0, offset_ = 0;
  sc_core::sc_event issued_event_;  // the current transfer is fully issued
  uint32_t in_flight_ = 0;
  uint64_t bytes_in_flight_ = 0;  // of loads and stores (outstanding_bytes)
  uint32_t stores_in_flight_ = 0;
  double spm_port_free_ps_ = 0;  // when the scratchpad port takes the next request
  double spm_ps_per_byte_;
  double issue_free_ps_ = 0;  // when the next request may issue (requests_per_cycle)
  bool stopped_ = false;      // a time past 2^64 ps: the run stops (CoreContext::fail)
  double ps_per_request_ = 0;
  ResourceLedger::Column port_ = 0, slots_column_ = 0, issue_ = 0, bytes_column_ = 0;
  sc_core::sc_event response_event_;
  sc_core::sc_event spm_event_;  // a transfer another waits for (wait_for_spm) completed
  bool spm_waiting_ = false;
  uint32_t pims_in_flight_ = 0;
  std::vector<unsigned char> data_;  // timing-only model: contents unused
};

}  // namespace npusim::arch

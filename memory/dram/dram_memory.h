// DRAM behind the memory socket: an address mapping spreads each request's
// bursts over the channels; every channel has its own controller
// (channel_controller.h). One SystemC method drives all controllers, waking
// only at the clocks some controller asked for. A request is answered when
// its last burst's data has moved.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "common/slot_pool.h"
#include "memory/dram/address_mapping.h"
#include "memory/dram/channel_controller.h"
#include "memory/dram/spec.h"
#include "memory/dram/wake_queue.h"
#include "memory/memory_model.h"

namespace npusim::memory::dram {

class DramMemory : public MemoryModel, private ChannelOwner {
 public:
  // A request past capacity_bytes (0: all the organisation addresses) gets
  // TLM_ADDRESS_ERROR_RESPONSE.
  DramMemory(const sc_core::sc_module_name& name, const DramSpec& spec,
             uint64_t capacity_bytes = 0);

  [[nodiscard]] double peak_bandwidth_gbps() const override { return spec_.peak_gbps(); }
  void report(MemoryReport* out) const override;
  void energy(double seconds, MemoryEnergy* out) const override;
  // "DRAM bus" (clocks of data over all channels) and "DRAM activations".
  void register_resources(ResourceLedger& ledger) override;
  [[nodiscard]] std::vector<std::string> trace_lanes() const override;  // one per stack

 protected:
  SC_HAS_PROCESS(DramMemory);
  void accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) override;

  // (Protected for a DRAM that computes, memory/pim, which drives the same
  // controllers.)
  struct Request {
    tlm::tlm_generic_payload* trans = nullptr;
    uint32_t bursts_left = 0;
    uint64_t done_clock = 0;
  };
  void run();
  void done(uint32_t request, uint32_t bursts, uint64_t clock);
  // ChannelOwner: the traffic trace, then done().
  void row_done(uint32_t channel, uint32_t request, uint32_t bursts, uint64_t clock) final;
  // A request for `trans` of `bursts` bursts arriving at clock `arrival`;
  // returns its id (answered when done() has counted them all).
  uint32_t open_request(tlm::tlm_generic_payload& trans, uint64_t arrival, uint32_t bursts);
  void enqueue_on(uint32_t channel, const Burst& burst);
  void group_bursts(uint64_t from, uint64_t to, const Burst& proto);
  void wake(uint32_t channel, uint64_t clock);
  void admit(uint32_t channel, uint64_t now, uint64_t look);
  // Moves waiting bursts into the controller's queue while it has room at
  // `now`; whether any moved.
  bool move_waiting(uint32_t channel, uint64_t now);
  [[nodiscard]] uint64_t clock_of(uint64_t ps) const;  // first clock at or after ps
  [[nodiscard]] uint64_t current_clock() const;

  DramSpec spec_;
  AddressMapping mapping_;
  uint64_t capacity_bytes_;
  std::vector<std::unique_ptr<ChannelController>> channels_;
  std::vector<std::deque<Burst>> waiting_;  // bursts that found the channel's queue full
  // Per channel: whether waiting_ holds any (dense: asked for every row,
  // where the deques would cost a cache line each).
  std::vector<uint8_t> held_back_;
  WakeQueue wakes_;  // per channel: the clock it asked to be stepped at
  SlotPool<Request> requests_;
  // Scratch for accept(): a request's bursts grouped by channel, bank and row.
  std::vector<Burst> runs_;
  std::vector<uint32_t> run_channels_;
  struct Slot {  // per (channel, bank): the run the current request builds there
    uint64_t epoch = 0;
    size_t run = 0;
  };
  std::vector<Slot> run_slots_;
  uint64_t epoch_ = 0;
  sc_core::sc_event event_;
  uint64_t event_clock_ = kNever;  // clock the pending notification is for
  ChannelResources resources_;     // set by register_resources()
};

}  // namespace npusim::memory::dram

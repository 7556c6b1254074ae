// Drives a memory model alone, for `npusim memtest`: a TLM-2.0 initiator that
// keeps up to `outstanding` requests in flight, taken from a synthetic pattern
// or a trace file, and measures bandwidth and latency.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <cstdint>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "memory/payload_slots.h"

namespace npusim::memory {

struct TrafficRequest {
  uint64_t time_ps = 0;  // earliest issue time
  uint64_t address = 0;
  uint32_t bytes = 0;
  bool write = false;
};

class TrafficSource {
 public:
  virtual ~TrafficSource() = default;
  // The next request, or false at the end.
  [[nodiscard]] virtual bool next(TrafficRequest* out) = 0;
};

struct PatternConfig {
  enum Kind { Sequential, Random, Strided } kind = Sequential;
  uint64_t requests = 100000;
  uint32_t bytes = 64;         // per request
  uint64_t stride = 0;         // Strided: bytes between request starts
  double read_fraction = 1.0;  // share of reads, drawn per request
  uint64_t seed = 1;
  uint64_t footprint = 0;  // bytes addressed (wraps); required
};

[[nodiscard]] std::unique_ptr<TrafficSource> make_pattern(const PatternConfig& config);
// One request per line: "time_ns R|W address bytes" (time 0 to 1e12 ns, not
// decreasing; address decimal or 0x hex; 1 to 2^30 bytes, inside
// `capacity_bytes` unless it is 0); '#' starts a comment. UserError naming
// file:line and the field on a bad line.
[[nodiscard]] std::unique_ptr<TrafficSource> load_trace(const std::string& path,
                                                        uint64_t capacity_bytes);

class TrafficGenerator : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<TrafficGenerator> socket;

  TrafficGenerator(const sc_core::sc_module_name& name, std::unique_ptr<TrafficSource> source,
                   uint32_t outstanding);

  [[nodiscard]] uint64_t requests() const { return latencies_ns_.size(); }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }
  [[nodiscard]] uint64_t reads() const { return reads_; }
  [[nodiscard]] uint64_t first_issue_ps() const { return first_issue_ps_; }
  [[nodiscard]] uint64_t last_response_ps() const { return last_response_ps_; }
  [[nodiscard]] std::vector<double>& latencies_ns() { return latencies_ns_; }
  [[nodiscard]] bool done() const { return exhausted_ && in_flight_ == 0; }
  // An error the traffic source raised (a bad trace line): the simulation
  // stopped and the caller rethrows it outside the SystemC kernel.
  [[nodiscard]] std::exception_ptr error() const { return error_; }

 private:
  SC_HAS_PROCESS(TrafficGenerator);
  struct Slot : tlm::tlm_generic_payload {  // (memory/payload_slots.h)
    uint64_t issued_ps = 0;
  };
  void issue();
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);

  std::unique_ptr<TrafficSource> source_;
  PayloadSlots<Slot> slots_;
  std::vector<Slot*> free_;
  std::vector<unsigned char> data_;
  TrafficRequest pending_;
  bool has_pending_ = false;
  bool exhausted_ = false;
  uint32_t in_flight_ = 0;
  uint64_t bytes_ = 0;
  uint64_t reads_ = 0;
  uint64_t first_issue_ps_ = UINT64_MAX;
  uint64_t last_response_ps_ = 0;
  std::vector<double> latencies_ns_;
  sc_core::sc_event wake_;
  std::exception_ptr error_;
};

}  // namespace npusim::memory

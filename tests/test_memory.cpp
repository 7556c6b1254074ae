// Ideal memory: a transfer takes latency + bytes / bandwidth, and the
// bandwidth is shared.
#include <gtest/gtest.h>

#include <tlm_utils/simple_initiator_socket.h>
#include <set>

#include <algorithm>

#include "common/radix_heap.h"
#include "memory/latency.h"
#include "memory/registry.h"
#include "sim/sim_context.h"
#include "test_util.h"

namespace npusim {
namespace {

using test::ProgramMaker;

// DMA loads of `bytes` in all (1 MiB each at most), nothing else.
Report load_only(uint64_t bytes, const std::vector<std::string>& sets) {
  ProgramMaker p;
  const uint32_t t = p.tensor(WEIGHT, bytes);
  for (uint64_t off = 0; off < bytes; off += 1 << 20) {
    p.load(t, std::min<uint64_t>(1 << 20, bytes - off), off);
  }
  return test::run(test::preset(sets), p.program());
}

// Event times come out in order, equal times in the order they went in,
// and looking at the earliest does not stop an earlier one being pushed.
TEST(RadixHeap, PopsInKeyOrderAndEqualKeysInPushOrder) {
  RadixHeap<int> h;
  h.push(50, 1);
  h.push(7, 2);
  h.push(1000, 3);
  h.push(7, 4);
  EXPECT_EQ(h.top_key(), 7u);
  EXPECT_EQ(h.pop(), 2);
  EXPECT_EQ(h.top_key(), 7u);
  EXPECT_EQ(h.pop(), 4);
  EXPECT_EQ(h.top_key(), 50u);
  h.push(9, 5);  // after the peek at 50, still above the last pop (7)
  EXPECT_EQ(h.top_key(), 9u);
  EXPECT_EQ(h.pop(), 5);
  EXPECT_EQ(h.pop(), 1);
  EXPECT_THROW(h.push(49, 6), std::logic_error);
  EXPECT_EQ(h.pop(), 3);
  EXPECT_TRUE(h.empty());
}

// Against a reference (key, push order) queue, with pushes and pops
// interleaved, many equal keys and keys far apart; a pop with or without a
// look at the smallest key first, and pushes between the look and the pop
// (the look's key is reused by the pop).
TEST(RadixHeap, AgreesWithAReferenceQueue) {
  RadixHeap<int> h;
  std::set<std::pair<uint64_t, int>> ref;
  uint64_t last = 0, state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull; };
  const auto push = [&](int i) {
    const uint64_t r = next();
    const uint64_t key = last + (r % 4 == 0 ? (r >> 8) % 1000000 : (r >> 8) % 4);
    h.push(key, i);
    ref.insert({key, i});
  };
  for (int i = 0; i < 20000; ++i) {
    if (ref.empty() || next() % 3 != 0) {
      push(i);
    } else {
      if (next() % 2 == 0) {
        ASSERT_EQ(h.top_key(), ref.begin()->first);
        if (next() % 3 == 0) push(i);
      }
      last = ref.begin()->first;
      ASSERT_EQ(h.pop(), ref.begin()->second) << "pop " << i;
      ref.erase(ref.begin());
    }
  }
}

TEST(LatencyHistogram, ExactBelow256AndWithin1Point6PercentAbove) {
  using memory::latency_bucket;
  using memory::latency_bucket_value;
  for (uint64_t v : {0ull, 1ull, 79ull, 255ull})
    EXPECT_EQ(latency_bucket_value(latency_bucket(v)), v);
  size_t last = 0;
  for (uint64_t v = 256; v < (uint64_t{1} << 40); v = v * 17 / 16 + 1) {
    const size_t b = latency_bucket(v);
    EXPECT_GE(b, last);  // monotone
    EXPECT_LT(b, memory::kLatencyBuckets);
    EXPECT_NEAR(latency_bucket_value(b), static_cast<double>(v), static_cast<double>(v) / 64);
    last = b;
  }
  EXPECT_LT(latency_bucket(UINT64_MAX), memory::kLatencyBuckets);
  // A 500 us queueing latency (1.2 M DDR5 clocks) is no longer clipped.
  std::vector<uint64_t> h(memory::kLatencyBuckets, 0);
  h[latency_bucket(1200000)] = 3;
  EXPECT_NEAR(memory::latency_from_histogram(h, 1.0).p50_ns(), 1.2e6, 1.2e6 / 64);
}

TEST(IdealMemory, TransferTakesLatencyPlusBytesOverBandwidth) {
  // 1 MiB at 1000 GB/s after 100 ns: 100 ns + 1048.576 ns, with enough
  // requests in flight (64 x 2 KiB covers 100 ns x 1 TB/s).
  const Report r = load_only(1 << 20, {"core.dma.max_request_bytes=2048"});
  EXPECT_NEAR(r.seconds(), 100e-9 + (1 << 20) / 1000e9, 1e-12);
  EXPECT_EQ(r.traffic().read().weight(), 1u << 20);
  EXPECT_EQ(r.traffic().transactions(), (1u << 20) / 2048);
}

TEST(IdealMemory, OneRequestInFlightPaysLatencyPerRequest) {
  // With one request outstanding each 2 KiB pays the 100 ns latency.
  const Report r =
      load_only(16 * 2048, {"core.dma.outstanding=1", "core.dma.max_request_bytes=2048"});
  EXPECT_NEAR(r.seconds(), 16 * (100e-9 + 2048 / 1000e9), 1e-12);
}

TEST(IdealMemory, AchievedBandwidthApproachesPeakForLongStreams) {
  const Report r = load_only(64 << 20, {"memory.ideal.bandwidth_gbps=500"});
  EXPECT_NEAR(r.traffic().achieved_bandwidth_gbps(), 500.0, 500.0 * 0.002);
  EXPECT_DOUBLE_EQ(r.traffic().peak_bandwidth_gbps(), 500.0);
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

TEST(ScratchpadPort, NarrowScratchpadLimitsTheDma) {
  // 8 banks x 64 B per 1 ns cycle = 512 GB/s, below the memory's 1000 GB/s.
  const Report r = load_only(8 << 20, {"core.scratchpad.banks=8"});
  EXPECT_NEAR(r.traffic().achieved_bandwidth_gbps(), 512.0, 512.0 * 0.01);
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

// Sends one read per address to a memory model and records the status of
// each response.
struct Probe : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Probe> socket;
  std::vector<std::pair<uint64_t, uint32_t>> reads;  // address, bytes
  std::vector<std::unique_ptr<tlm::tlm_generic_payload>> payloads;
  std::vector<tlm::tlm_response_status> status;
  SC_HAS_PROCESS(Probe);
  explicit Probe(const sc_core::sc_module_name& name) : sc_module(name), socket("socket") {
    socket.register_nb_transport_bw(this, &Probe::bw);
    SC_THREAD(send);
  }
  void send() {
    status.assign(reads.size(), tlm::TLM_INCOMPLETE_RESPONSE);
    for (size_t i = 0; i < reads.size(); ++i) {
      payloads.push_back(std::make_unique<tlm::tlm_generic_payload>());
      tlm::tlm_generic_payload& p = *payloads.back();
      p.set_command(tlm::TLM_READ_COMMAND);
      p.set_address(reads[i].first);
      p.set_data_length(reads[i].second);
      p.set_streaming_width(reads[i].second);
      p.set_data_ptr(nullptr);
      p.set_byte_enable_ptr(nullptr);
      p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      tlm::tlm_phase phase = tlm::BEGIN_REQ;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      (void)socket->nb_transport_fw(p, phase, delay);
    }
  }
  tlm::tlm_sync_enum bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time&) {
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (payloads[i].get() == &p && phase == tlm::BEGIN_RESP) status[i] = p.get_response_status();
    }
    return tlm::TLM_COMPLETED;
  }
};

// Every memory model answers a request past its capacity with an address
// error (the program check refuses such programs first; this is the target
// doing what a real one does), and serves one inside it.
TEST(MemoryModels, ARequestPastCapacityGetsAnAddressError) {
  for (const char* file : {"npu-128x128-ideal", "npu-hbm3", "lpu-socamm2"}) {
    const System system = test::hw(file);
    MemoryConfig config = system.memory();
    if (config.has_ideal()) config.set_capacity_bytes(uint64_t{1} << 30);
    const memory::MemoryModelEntry& entry = memory::MemoryRegistry::lookup(config, file, "memory");
    const uint64_t capacity = entry.capacity_bytes(config);
    sim::ScopedSimContext context;
    const std::unique_ptr<memory::MemoryModel> memory = entry.create("memory", config);
    Probe probe("probe");
    probe.socket.bind(memory->socket);
    probe.reads = {
        {0, 64}, {capacity - 64, 64}, {capacity - 32, 64}, {capacity, 64}, {UINT64_MAX - 31, 64}};
    context.run();
    EXPECT_EQ(probe.status,
              (std::vector<tlm::tlm_response_status>{
                  tlm::TLM_OK_RESPONSE, tlm::TLM_OK_RESPONSE, tlm::TLM_ADDRESS_ERROR_RESPONSE,
                  tlm::TLM_ADDRESS_ERROR_RESPONSE, tlm::TLM_ADDRESS_ERROR_RESPONSE}))
        << file;
  }
}

}  // namespace
}  // namespace npusim

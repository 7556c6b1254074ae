// Chips joined by links (sim/system.proto Topology, arch/chip_network.h)
// and the collectives the compiler builds from sends (compiler/
// collectives.h): routes, a send's time in closed form, a ring all-reduce
// against the ring's closed form, contention, and the values it computes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "arch/chip_network.h"
#include "arch/functional.h"
#include "arch/vector_costs.h"
#include "common/elements.h"
#include "compiler/collectives.h"
#include "sim/config.h"
#include "sim/simulator.h"
#include "test_util.h"

namespace npusim {
namespace {

LinkConfig link_of(double gbps, double latency_ns, uint32_t header = 0) {
  LinkConfig l;
  l.set_name("ICI");
  l.set_bandwidth_gbps(gbps);
  l.set_latency_ns(latency_ns);
  l.set_header_bytes(header);
  return l;
}

arch::ChipNetworkConfig network(uint32_t chips, arch::ChipNetworkConfig::Shape shape) {
  arch::ChipNetworkConfig c;
  c.chips = chips;
  c.shape = shape;
  c.chip_link = link_of(100, 500, 64);
  c.packet_bytes = 4096;
  return c;
}

// Routes take the shortest way: around the ring the nearer direction, on
// the torus x then y, through a switch up and down.
TEST(ChipNetwork, RoutesAreShortest) {
  using Shape = arch::ChipNetworkConfig::Shape;
  const arch::ChipNetwork ring(network(8, Shape::Ring));
  EXPECT_EQ(ring.route(0, 3).size(), 3u);
  EXPECT_EQ(ring.route(0, 5).size(), 3u);  // backwards
  EXPECT_EQ(ring.route(0, 4).size(), 4u);
  EXPECT_EQ(ring.route(2, 2).size(), 0u);
  const arch::ChipNetwork full(network(8, Shape::Full));
  EXPECT_EQ(full.route(1, 6).size(), 1u);
  arch::ChipNetworkConfig t = network(16, Shape::Torus);
  t.torus_x = 4;
  t.torus_y = 4;
  const arch::ChipNetwork torus(t);
  EXPECT_EQ(torus.route(0, 15).size(), 2u);  // (0,0) to (3,3): one wrap each way
  EXPECT_EQ(torus.route(0, 10).size(), 4u);  // (0,0) to (2,2)
  const arch::ChipNetwork sw(network(8, Shape::Switch));
  EXPECT_EQ(sw.route(3, 7).size(), 2u);
}

// One message of B bytes in P-byte packets with H-byte headers over h
// store-and-forward hops of bandwidth W and latency L: the packets pipeline,
// so it lands at (h - 1) x ((P + H) / W + L) + ceil(B / P) x (P + H) / W + L
// (the last hop's packets one after another). Two messages sharing a link
// direction take twice as long as one for the second.
TEST(ChipNetwork, AMessagePipelinesOverItsHopsAndSharesALink) {
  using Shape = arch::ChipNetworkConfig::Shape;
  arch::ChipNetwork ring(network(8, Shape::Ring));
  const double ps_per_byte = 1000.0 / 100;  // 100 GB/s
  const double packet_ps = (4096 + 64) * ps_per_byte, latency_ps = 500e3;
  const uint64_t bytes = 1 << 20;  // 256 packets
  const double expected = 2 * (packet_ps + latency_ps) + 256 * packet_ps + latency_ps;
  EXPECT_NEAR(static_cast<double>(ring.send(0, 0, 3, bytes)), expected, 2);
  // The same path again at time 0: it queues behind the first on every hop.
  arch::ChipNetwork shared(network(8, Shape::Ring));
  (void)shared.send(0, 0, 1, bytes);
  const uint64_t second = shared.send(0, 0, 1, bytes);
  EXPECT_NEAR(static_cast<double>(second), 2 * 256 * packet_ps + latency_ps, 2);
  // The other direction is free.
  EXPECT_NEAR(static_cast<double>(shared.send(0, 1, 0, bytes)), 256 * packet_ps + latency_ps, 2);
}

// A system of `chips` npu-hbm3 (or `hw`) chips in a ring of 100 GB/s links,
// 1 us.
System ring_system(uint32_t chips, const std::string& hw = "npu-hbm3") {
  System s = sim::load_system(
      std::string(NPUSIM_SOURCE_DIR) + "/examples/hw/" + hw + ".textproto",
      {fmt::format("topology.chips={}", chips), "topology.chip_link.name='ICI'",
       "topology.chip_link.bandwidth_gbps=100", "topology.chip_link.latency_ns=1000"});
  return s;
}

// Each of `chips` cores loads its `elements` fp16 inputs (core c's at c x
// their bytes) into its scratchpad at 0 (tensor 0, with room for an output
// after the inputs); returns the semaphore each core's load gives.
std::vector<uint32_t> load_inputs(Program& p, uint32_t chips, uint64_t elements) {
  const uint64_t bytes = elements * 2;
  TensorRef* t = p.add_tensors();
  t->set_name("x");
  t->set_tensor_class(ACTIVATION);
  t->set_bytes(bytes * chips + bytes);
  std::vector<uint32_t> ready;
  for (uint32_t c = 0; c < chips; ++c) {
    p.add_cores();
    Semaphore* s = p.add_semaphores();
    s->set_id(static_cast<uint32_t>(p.semaphores_size() - 1));
    s->set_name(fmt::format("loaded[{}]", c));
    s->set_producer(DMA);
    s->set_core(c);
    s->set_kind(DATA_READY);
    s->set_initial(0);
    ready.push_back(s->id());
    Instruction& load = *p.mutable_cores(static_cast<int>(c))->add_dma();
    DmaOp& op = *load.mutable_dma();
    op.set_direction(DmaOp::LOAD);
    op.set_dram_addr(c * bytes);
    op.set_spm_addr(0);
    op.set_row_bytes(bytes);
    op.set_rows(1);
    op.set_tensor(0);
    op.set_tensor_class(ACTIVATION);
    SemOp* sig = load.add_signal();
    sig->set_sem(s->id());
    sig->set_count(1);
  }
  return ready;
}

// Core 0 stores `bytes` of its scratchpad from `spm` at `out` once it can
// take once each semaphore `done` names.
void store_from_core0(Program& p, uint64_t spm, uint64_t bytes, uint64_t out,
                      const std::function<bool(const std::string&)>& done) {
  Instruction& store = *p.mutable_cores(0)->add_dma();
  DmaOp& op = *store.mutable_dma();
  op.set_direction(DmaOp::STORE);
  op.set_dram_addr(out);
  op.set_spm_addr(spm);
  op.set_row_bytes(bytes);
  op.set_rows(1);
  op.set_tensor(0);
  op.set_tensor_class(ACTIVATION);
  for (int i = 0; i < p.semaphores_size(); ++i) {
    if (!done(p.semaphores(i).name())) continue;
    SemOp* w = store.add_wait();
    w->set_sem(static_cast<uint32_t>(i));
    w->set_count(1);
  }
}

// Each core loads its inputs, the ring collective runs on them, and core 0
// stores its buffer at `out` once its last chunk is in (compiler/
// collectives.h: its `gathered`, or reducing only `added`, semaphore's last
// count).
Program load_collective_store(compiler::RingOp ring, uint32_t chips, uint64_t elements,
                              uint64_t out) {
  Program p;
  compiler::RingCollective r;
  r.op = ring;
  for (uint32_t c = 0; c < chips; ++c) r.cores.push_back(c);
  r.data_ready = load_inputs(p, chips, elements);
  r.spm_data = 0;
  r.spm_scratch = elements * 2;
  r.elements = elements;
  r.name = "c";
  compiler::ring_collective(p, r);
  const char* last = ring == compiler::RingOp::ReduceScatter ? "c[0].added" : "c[0].gathered";
  store_from_core0(p, 0, elements * 2, out, [&](const std::string& name) { return name == last; });
  return p;
}

// On an idle ring of N = 4 chips, an all-reduce of S = 8 MiB takes the
// ring's closed form within 2%: each of the 2 (N - 1) steps sends a chunk of
// S / N over one link (100 GB/s, 1 us) and, in the reduce-scatter, adds it
// (npu-hbm3's 2048 lanes): 2 (N - 1) / N x S / W + 2 (N - 1) x L + (N - 1)
// x the add. The links carry exactly 2 (N - 1) / N x S each way in all.
TEST(Collectives, RingAllReduceMatchesTheClosedForm) {
  constexpr uint32_t kChips = 4;
  constexpr uint64_t kElements = 4 << 20;  // 8 MiB of fp16
  const System s = ring_system(kChips);
  const Program p =
      compiler::collective_program(compiler::RingOp::AllReduce, kChips, kElements, FP16);
  const Report r = test::run(s, p);
  const double bytes = kElements * 2.0, w = 100e9, l = 1e-6;
  const uint64_t chunk = kElements / kChips;
  const double add_s = static_cast<double>(arch::vector_cycles(*arch::vector_cost(ADD), chunk, 0,
                                                               s.core().vector().lanes())) /
                       (s.core_clock_ghz() * 1e9);
  const double closed =
      2.0 * (kChips - 1) / kChips * bytes / w + 2 * (kChips - 1) * l + (kChips - 1) * add_s;
  RecordProperty("seconds",
                 fmt::format("{:.3f} us against {:.3f} us", r.seconds() * 1e6, closed * 1e6));
  EXPECT_NEAR(r.seconds() / closed, 1.0, 0.02);
  ASSERT_EQ(r.chips_size(), 4);
  uint64_t link_bytes = 0;
  for (const NetworkHopStats& h : r.network()) {
    if (h.name().rfind("ICI", 0) == 0) link_bytes += h.bytes();
  }
  EXPECT_EQ(link_bytes, 2u * (kChips - 1) * kChips * (kElements / kChips) * 2);
  for (const ChipStats& c : r.chips()) EXPECT_EQ(c.bytes_sent(), 2u * (kChips - 1) * chunk * 2);
  // The limiter of chip 0 is its outgoing link.
  EXPECT_EQ(r.chips(0).limiter().resource(), "ICI 0->1");
}

// Reduce-scatter and all-gather alone: one phase each, (N - 1) / N x S / W
// + (N - 1) x L (+ (N - 1) adds reducing), on the same ring.
TEST(Collectives, ReduceScatterAndAllGatherAreOnePhaseEach) {
  constexpr uint32_t kChips = 4;
  constexpr uint64_t kElements = 4 << 20;
  const System s = ring_system(kChips);
  const double bytes = kElements * 2.0, w = 100e9, l = 1e-6;
  const double add_s =
      static_cast<double>(arch::vector_cycles(*arch::vector_cost(ADD), kElements / kChips, 0,
                                              s.core().vector().lanes())) /
      (s.core_clock_ghz() * 1e9);
  const double phase = (kChips - 1.0) / kChips * bytes / w + (kChips - 1) * l;
  const double rs = test::run(s, compiler::collective_program(compiler::RingOp::ReduceScatter,
                                                              kChips, kElements, FP16))
                        .seconds();
  const double ag = test::run(s, compiler::collective_program(compiler::RingOp::AllGather, kChips,
                                                              kElements, FP16))
                        .seconds();
  EXPECT_NEAR(rs / (phase + (kChips - 1) * add_s), 1.0, 0.02);
  EXPECT_NEAR(ag / phase, 1.0, 0.02);
}

// Two all-reduces at once on the same ring share its links: together they
// take longer than one alone (about twice: each step's chunks queue).
TEST(Collectives, TwoConcurrentAllReducesShareTheLinks) {
  const System s = ring_system(4);
  const double one =
      test::run(s, compiler::collective_program(compiler::RingOp::AllReduce, 4, 1 << 20, FP16, 1))
          .seconds();
  const double two =
      test::run(s, compiler::collective_program(compiler::RingOp::AllReduce, 4, 1 << 20, FP16, 2))
          .seconds();
  EXPECT_GT(two, 1.6 * one);
  EXPECT_LT(two, 2.2 * one);
}

// The values: every core's buffer ends as the sum of the four inputs
// (small integers: exact in fp16); core 0 stores it.
TEST(Collectives, RingCollectivesComputeTheirValues) {
  constexpr uint32_t kChips = 4;
  constexpr uint64_t kElements = 1000;  // chunks of 250
  const System s = ring_system(kChips, "npu-128x128-ideal");
  const uint64_t out = kChips * kElements * 2;
  std::vector<std::vector<float>> x(kChips, std::vector<float>(kElements));
  std::vector<float> sum(kElements, 0.0F);
  arch::MemoryImage image;
  for (uint32_t c = 0; c < kChips; ++c) {
    for (uint64_t i = 0; i < kElements; ++i) {
      x[c][i] = static_cast<float>((i * 7 + c * 3) % 17) - 8.0F;
      sum[i] += x[c][i];
    }
    std::vector<uint8_t> bytes(kElements * 2);
    encode_elements(FP16, x[c].data(), kElements, bytes.data());
    image.write(c * kElements * 2, bytes.data(), bytes.size());
  }
  const auto core0 = [&](compiler::RingOp ring) {
    arch::MemoryImage mem(image);
    const Program p = load_collective_store(ring, kChips, kElements, out);
    sim::SimulationInput in;
    in.system = &s;
    in.program = &p;
    in.memory_image = &mem;
    (void)sim::simulate(in);
    std::vector<uint8_t> bytes(kElements * 2);
    mem.read(out, bytes.data(), bytes.size());
    std::vector<float> got(kElements);
    decode_elements(FP16, bytes.data(), kElements, got.data());
    return got;
  };
  // All-reduce: every element summed over the four (small integers: exact).
  EXPECT_EQ(core0(compiler::RingOp::AllReduce), sum);
  // Reduce-scatter: core 0 ends with chunk 1 summed.
  const std::vector<float> rs = core0(compiler::RingOp::ReduceScatter);
  EXPECT_EQ(std::vector<float>(rs.begin() + 250, rs.begin() + 500),
            std::vector<float>(sum.begin() + 250, sum.begin() + 500));
  // All-gather: chunk k is core k's own.
  const std::vector<float> ag = core0(compiler::RingOp::AllGather);
  for (uint32_t k = 0; k < kChips; ++k) {
    EXPECT_EQ(std::vector<float>(ag.begin() + k * 250, ag.begin() + (k + 1) * 250),
              std::vector<float>(x[k].begin() + k * 250, x[k].begin() + (k + 1) * 250))
        << "chunk " << k;
  }
}

// An all-to-all of S = 8 MiB per chip over 4 fully connected chips: each
// chip's three chunks of S / 4 leave its scratchpad through the DMA port
// one after another (banks x width a cycle; a send reads its bytes as it
// issues) and go over three links of their own (100 GB/s, 1 us), so it
// takes two chunks' port time, then one chunk's link time plus the
// latency, and each link carries one chunk. On a ring the chunks for the
// chip opposite share links with the neighbours' (two hops): longer.
TEST(Collectives, AllToAllOnAFullyConnectedNetworkTakesOneChunksTime) {
  constexpr uint32_t kChips = 4;
  constexpr uint64_t kElements = 4 << 20;  // 8 MiB of fp16
  System full = ring_system(kChips);
  full.mutable_topology()->set_chip_topology(FULLY_CONNECTED);
  const Program p = compiler::all_to_all_program(kChips, kElements, FP16);
  const Report r = test::run(full, p);
  const double port = static_cast<double>(full.core().scratchpad().banks()) *
                      full.core().scratchpad().bank_width_bytes() * full.core_clock_ghz() * 1e9;
  const double chunk = kElements / kChips * 2.0;
  const double closed = (kChips - 2) * chunk / port + chunk / 100e9 + 1e-6;
  RecordProperty("seconds",
                 fmt::format("{:.3f} us against {:.3f} us", r.seconds() * 1e6, closed * 1e6));
  EXPECT_NEAR(r.seconds() / closed, 1.0, 0.02);
  for (const NetworkHopStats& h : r.network()) {
    if (h.name().rfind("ICI", 0) == 0) {
      EXPECT_EQ(h.bytes(), chunk) << h.name();
    }
  }
  for (const ChipStats& c : r.chips()) EXPECT_EQ(c.bytes_sent(), 3 * chunk);
  const Report ring = test::run(ring_system(kChips), p);
  EXPECT_GT(ring.seconds(), 1.4 * r.seconds());
}

// The values: core 0 ends with chunk 0 of every core, core s's at slot s.
TEST(Collectives, AllToAllDeliversEachCoresChunk) {
  constexpr uint32_t kChips = 4;
  constexpr uint64_t kElements = 1000;  // chunks of 250
  const System s = ring_system(kChips, "npu-128x128-ideal");
  const uint64_t bytes = kElements * 2, out = kChips * bytes;
  // Each core loads its inputs, the all-to-all runs on them, and core 0
  // stores its output once it has every core's chunk and its own.
  Program a2a;
  compiler::AllToAll spec;
  for (uint32_t c = 0; c < kChips; ++c) spec.cores.push_back(c);
  spec.data_ready = load_inputs(a2a, kChips, kElements);
  spec.spm_data = 0;
  spec.spm_out = bytes;
  spec.elements = kElements;
  spec.name = "a";
  compiler::all_to_all(a2a, spec);
  store_from_core0(a2a, bytes, bytes, out,
                   [](const std::string& name) { return name.rfind("a[0].", 0) == 0; });
  arch::MemoryImage mem;
  std::vector<std::vector<float>> x(kChips, std::vector<float>(kElements));
  for (uint32_t c = 0; c < kChips; ++c) {
    for (uint64_t i = 0; i < kElements; ++i) x[c][i] = static_cast<float>((i * 5 + c * 11) % 23);
    std::vector<uint8_t> b(bytes);
    encode_elements(FP16, x[c].data(), kElements, b.data());
    mem.write(c * bytes, b.data(), b.size());
  }
  sim::SimulationInput in;
  in.system = &s;
  in.program = &a2a;
  in.memory_image = &mem;
  (void)sim::simulate(in);
  std::vector<uint8_t> b(bytes);
  mem.read(out, b.data(), b.size());
  std::vector<float> got(kElements);
  decode_elements(FP16, b.data(), kElements, got.data());
  for (uint32_t k = 0; k < kChips; ++k) {
    EXPECT_EQ(std::vector<float>(got.begin() + k * 250, got.begin() + (k + 1) * 250),
              std::vector<float>(x[k].begin(), x[k].begin() + 250))
        << "slot " << k;
  }
}

TEST(Collectives, BadTopologiesAreRefused) {
  const std::string hw = std::string(NPUSIM_SOURCE_DIR) + "/examples/hw/npu-hbm3.textproto";
  EXPECT_NE(test::error_of([&] {
              (void)sim::load_system(hw, {"topology.chips=4"});
            }).find("topology.chip_link.bandwidth_gbps: 4 chips need a chip link"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              (void)sim::load_system(
                  hw, {"topology.chips=6", "topology.chip_topology=TORUS_2D", "topology.torus_x=4",
                       "topology.torus_y=2", "topology.chip_link.bandwidth_gbps=10"});
            }).find("torus_x x torus_y = 4 x 2 must equal the 6 chips"),
            std::string::npos);
  // A program for 4 cores on a system of 2.
  const System two = ring_system(2);
  EXPECT_NE(test::error_of([&] {
              (void)test::run(
                  two, compiler::collective_program(compiler::RingOp::AllReduce, 4, 1000, FP16));
            }).find("this system has 2 core(s); the program has 4"),
            std::string::npos);
}

}  // namespace
}  // namespace npusim

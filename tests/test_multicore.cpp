// Several cores on one chip (sim/system.proto Topology.cores): each behind
// its port into the chip's network, all sharing the chip's memories through
// a crossbar (sim/core_crossbar.h). Cores streaming from one DRAM together
// are slower than one alone, and the limiter names the DRAM; behind narrow
// ports each is held by its own port, which the limiter names.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "arch/chip_network.h"
#include "sim/config.h"
#include "sim/functional_run.h"
#include "sim/report_io.h"
#include "sim/simulator.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

// `cores` cores, each of the first `active` loading `bytes` of its own
// region in 1 MiB transfers (into its scratchpad, over and over).
Program streams(uint32_t cores, uint32_t active, uint64_t bytes) {
  Program p;
  constexpr uint64_t kChunk = 1 << 20;
  for (uint32_t c = 0; c < cores; ++c) {
    TensorRef* t = p.add_tensors();
    t->set_name(fmt::format("w{}", c));
    t->set_tensor_class(WEIGHT);
    t->set_bytes(bytes);
    t->set_dram_addr(c * bytes);
    CoreProgram& core = *p.add_cores();
    for (uint64_t b = 0; c < active && b < bytes; b += kChunk) {
      DmaOp& op = *core.add_dma()->mutable_dma();
      op.set_direction(DmaOp::LOAD);
      op.set_dram_addr(c * bytes + b);
      op.set_spm_addr(0);
      op.set_row_bytes(kChunk);
      op.set_rows(1);
      op.set_tensor(c);
      op.set_tensor_class(WEIGHT);
    }
  }
  return p;
}

System chip(uint32_t cores, const std::vector<std::string>& more = {}) {
  std::vector<std::string> sets = {fmt::format("topology.cores={}", cores)};
  sets.insert(sets.end(), more.begin(), more.end());
  return test::hw("npu-hbm3", sets);
}

TEST(MultiCore, CoresSharingOneDramAreSlowerThanOneAloneAndTheDramIsTheWall) {
  constexpr uint64_t kBytes = 32 << 20;
  const System system = chip(4);
  const Report alone = test::run(system, streams(4, 1, kBytes));
  const Report together = test::run(system, streams(4, 4, kBytes));
  EXPECT_EQ(together.chips_size(), 1);
  // One core streams at most of the DRAM's peak; four share it.
  EXPECT_GT(alone.traffic().achieved_bandwidth_gbps(), 0.8 * 4096);
  EXPECT_GT(together.seconds(), 3.0 * alone.seconds());
  EXPECT_EQ(together.limiter().resource(), "DRAM bus");
  EXPECT_GT(together.limiter().busy_share(), 0.9);
}

TEST(MultiCore, BehindNarrowPortsEachCoreIsHeldByItsPort) {
  constexpr uint64_t kBytes = 8 << 20;
  const System system = chip(4, {"topology.core_port.bandwidth_gbps=256"});
  const Report alone = test::run(system, streams(4, 1, kBytes));
  const Report together = test::run(system, streams(4, 4, kBytes));
  // 256 GB/s per core: one alone streams at its port's rate, the port the
  // wall. Four take 1 TB/s, a quarter of the DRAM's peak: their streams'
  // row conflicts slow them a little, the ports still the wall.
  EXPECT_NEAR(alone.seconds(), static_cast<double>(kBytes) / 256e9, 0.02 * alone.seconds());
  EXPECT_EQ(alone.limiter().resource(), "core 0 port in");
  EXPECT_GT(alone.limiter().busy_share(), 0.95);
  EXPECT_GE(together.seconds(), alone.seconds());
  EXPECT_LT(together.seconds(), 1.3 * alone.seconds());
  EXPECT_EQ(together.limiter().resource().substr(0, 5), "core ");
  EXPECT_GT(together.limiter().busy_share(), 0.75);
}

// A single core crosses its port too (a GPU-like core's path to its L2
// and memory controllers): it used to be ignored without a word.
TEST(MultiCore, ASingleCoreCrossesItsPort) {
  constexpr uint64_t kBytes = 8 << 20;
  const Report open = test::run(chip(1), streams(1, 1, kBytes));
  const Report narrow =
      test::run(chip(1, {"topology.core_port.bandwidth_gbps=256"}), streams(1, 1, kBytes));
  EXPECT_NEAR(narrow.seconds(), static_cast<double>(kBytes) / 256e9, 0.02 * narrow.seconds());
  EXPECT_EQ(narrow.limiter().resource(), "core 0 port in");
  // Without the port it streams at most of the DRAM's 4 TB/s, 16x the port.
  EXPECT_GT(narrow.seconds(), 3.0 * open.seconds());
  // A latency on the port delays the loads: each request and each response
  // takes 1 us more to cross, so the run ends at least 2 us later.
  const Report far = test::run(
      chip(1, {"topology.core_port.bandwidth_gbps=100000", "topology.core_port.latency_ns=1000"}),
      streams(1, 1, kBytes));
  EXPECT_GT(far.seconds(), open.seconds() + 2e-6);
  // With few requests in flight, that round trip holds the slots: the DMA's
  // slots are the wall, as Little's law says, not the DRAM they leave idle.
  const Report few =
      test::run(chip(1, {"topology.core_port.bandwidth_gbps=100000",
                         "topology.core_port.latency_ns=1000", "core.dma.outstanding=8"}),
                streams(1, 1, kBytes));
  EXPECT_EQ(few.limiter().resource(), "DMA slots");
  EXPECT_GT(few.limiter().busy_share(), 0.9);
}

TEST(MultiCore, EachCoresResourcesAreNamedAfterIt) {
  const Report r = test::run(chip(2), streams(2, 2, 4 << 20));
  std::vector<std::string> names;
  for (const ResourceStats& s : r.resources()) names.push_back(s.name());
  for (const char* name : {"core0 DMA slots", "core1 DMA slots", "core1 array compute"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

// A 3 x 3 mesh of 100 GB/s links of 10 ns, ports unlimited: a 4 KiB send
// from core 0 to core 8 goes along x, then y, a store-and-forward hop per
// link (4 x (4096 B / 100 GB/s + 10 ns)); a memory request from core 8 to
// a memory at node 0 crosses the same four links, one at node 8 none.
TEST(MultiCore, AMeshRoutesXThenYAndPacketsCrossEachLink) {
  arch::ChipNetworkConfig c;
  c.cores = 9;
  c.mesh = true;
  c.mesh_x = 3;
  c.mesh_y = 3;
  c.mesh_link.set_bandwidth_gbps(100);
  c.mesh_link.set_latency_ns(10);
  c.memory_nodes = {0, 8};
  c.interleave_bytes = 4096;
  arch::ChipNetwork net(c);
  EXPECT_EQ(net.send(0, 0, 8, 4096), 4u * (40960 + 10000));
  std::vector<std::string> crossed;
  for (const auto& h : net.stats()) {
    if (h.packets > 0) crossed.push_back(h.name);
  }
  EXPECT_EQ(crossed, (std::vector<std::string>{"core 0 port out", "core 8 port in", "mesh 0->1",
                                               "mesh 1->2", "mesh 2->5", "mesh 5->8"}));
  EXPECT_EQ(net.to_memory(1000000, 8, 0, 0), 1000000u + 4 * 10000);  // to node 0
  EXPECT_EQ(net.to_memory(1000000, 8, 0, 4096), 1000000u);           // node 8's
  EXPECT_EQ(net.from_memory(1000000, 4, 4096, 4096), 1000000u + 2 * (40960 + 10000));
}

// Four cores on a 2 x 2 mesh of 256 GB/s links, the DRAM at node 0: one
// core at node 3 alone streams at a link's rate; all four together share
// the link out of node 0 towards x (core 1's responses and core 3's, x
// first), which the limiter names.
TEST(MultiCore, OnAMeshTheLinkOutOfTheMemorysNodeIsTheWall) {
  constexpr uint64_t kBytes = 8 << 20;
  const System system = chip(4, {"topology.on_chip_network=MESH_2D", "topology.mesh_x=2",
                                 "topology.mesh_y=2", "topology.mesh_link.bandwidth_gbps=256"});
  Program far = streams(4, 4, kBytes);
  for (int c = 0; c < 3; ++c) far.mutable_cores(c)->clear_dma();  // core 3 alone
  const Report alone = test::run(system, far);
  const Report together = test::run(system, streams(4, 4, kBytes));
  EXPECT_NEAR(alone.seconds(), static_cast<double>(kBytes) / 256e9, 0.03 * alone.seconds());
  EXPECT_EQ(together.limiter().resource(), "mesh 0->1");
  EXPECT_GT(together.limiter().busy_share(), 0.9);
  // Two streams share that link: the last ends about twice as late.
  EXPECT_GT(together.seconds(), 1.8 * alone.seconds());
}

// The run table of many chips stays readable: every k-th chip (and the
// last) up to 48 rows, the 48 busiest hops busiest first, each cut saying
// so; the bytes read are summed over the chips.
TEST(MultiCore, TheRunTableOfManyChipsSamplesChipsAndShowsTheBusiestHops) {
  Report r;
  for (uint32_t i = 0; i < 100; ++i) {
    ChipStats& c = *r.add_chips();
    c.set_chip(i);
    c.set_bytes_read(1000);
    NetworkHopStats& h = *r.add_network();
    h.set_name(fmt::format("hop{}", i));
    h.set_busy(i / 100.0);
  }
  std::ostringstream out;
  sim::print_table(r, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("bytes read, all chips                 100.000 KB"), std::string::npos)
      << text;
  std::istringstream lines(text);
  int chip_rows = 0;
  bool last_chip = false;
  std::string first_hop;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("network hop", 0) == 0) std::getline(lines, first_hop);
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    ++chip_rows;
    last_chip = last_chip || line.rfind("99 ", 0) == 0;
  }
  EXPECT_EQ(chip_rows, 34);  // chips 0, 3, ..., 99: one in ceil(100 / 48) = 3
  EXPECT_TRUE(last_chip);
  EXPECT_NE(text.find("(one chip in 3 of 100, and the last;"), std::string::npos);
  EXPECT_EQ(first_hop.substr(0, 6), "hop99 ");
  EXPECT_NE(text.find("(the 48 busiest of 100 hops;"), std::string::npos);
  EXPECT_EQ(text.find("hop51 "), std::string::npos);  // the 49th busiest
}

// A layer split over the cores of a chip (tensor parallelism, each core in
// its part of the chip's memory), and over two chips of two cores each,
// computes what one core does.
TEST(MultiCore, ALayerSplitOverCoresComputesWhatOneCoreDoes) {
  sim::WorkloadOptions w;
  w.layer = "hidden=512,heads=8,kv_heads=4,intermediate=1024";
  w.batch = 2;
  std::map<std::string, std::vector<float>> one;
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {},
           {"topology.cores=4"},
           {"topology.cores=2", "topology.chips=2", "topology.chip_link.bandwidth_gbps=100"}}) {
    const System system = test::hw("npu-hbm3", sets);
    const sim::Compiled c = sim::compile_workload(system, "test", w);
    sim::SimulationInput in;
    in.system = &system;
    const sim::FunctionalResult f = sim::run_functional(in, c, {});
    ASSERT_EQ(f.outputs.size(), 3u);  // the K and V caches and the output
    for (const sim::TensorResult& t : f.outputs) {
      EXPECT_TRUE(sim::compare(t.values, t.reference, t.dtype).within()) << t.name;
      if (sets.empty()) {
        one[t.name] = t.values;
      } else {
        EXPECT_TRUE(sim::compare(t.values, one.at(t.name), t.dtype).within()) << t.name;
      }
    }
  }
}

}  // namespace
}  // namespace npusim

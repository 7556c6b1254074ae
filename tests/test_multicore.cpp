// Several cores on one chip (sim/system.proto Topology.cores): each behind
// its port into the chip's network, all sharing the chip's memories through
// a crossbar (sim/core_crossbar.h). Cores streaming from one DRAM together
// are slower than one alone, and the limiter names the DRAM; behind narrow
// ports each is held by its own port, which the limiter names.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/functional_run.h"
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
  return sim::load_system(test::source_path("examples/hw/npu-hbm3.textproto"), sets);
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

TEST(MultiCore, EachCoresResourcesAreNamedAfterIt) {
  const Report r = test::run(chip(2), streams(2, 2, 4 << 20));
  std::vector<std::string> names;
  for (const ResourceStats& s : r.resources()) names.push_back(s.name());
  for (const char* name : {"core0 DMA slots", "core1 DMA slots", "core1 array compute"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
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
    const System system =
        sim::load_system(test::source_path("examples/hw/npu-hbm3.textproto"), sets);
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

// Energy and power: per-event energies times the events counted, DRAM
// energy from the memory's own command and byte counters, components that
// add up, and config errors that name the field.
#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "common/file.h"
#include "sim/memtest.h"
#include "sim/trace_writer.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

std::map<std::string, double> components(const Report& r) {
  std::map<std::string, double> out;
  for (const auto& c : r.energy().components()) out[c.name()] = c.joules();
  return out;
}

System hbm3_npu() {
  return test::hw("npu-hbm3");
}

// One load of `bytes` of weights, nothing else.
Report load(const System& system, uint64_t bytes) {
  test::ProgramMaker p;
  p.load(p.tensor(WEIGHT, bytes), bytes);
  return test::run(system, p.program());
}

double memory_dynamic(const Report& r) {
  auto c = components(r);
  return c["memory.activate"] + c["memory.read_write"] + c["memory.io"];
}

TEST(Energy, DramEnergyIsProportionalToTheBytesRead) {
  const System system = hbm3_npu();
  const Report one = load(system, 4 << 20);
  const Report two = load(system, 8 << 20);
  ASSERT_EQ(two.traffic().read().total(), 2 * one.traffic().read().total());
  // Commands and bytes double: activation, column and I/O energy double.
  EXPECT_NEAR(memory_dynamic(two) / memory_dynamic(one), 2.0, 0.02);
  // Column energy is bits x pJ/bit exactly (HBM3 preset: 1.994 pJ/b).
  EXPECT_NEAR(components(one)["memory.read_write"], (4 << 20) * 8 * 1.994e-12, 1e-12);
  // Background and refresh follow the time, which doubles too.
  EXPECT_NEAR(two.energy().joules() / one.energy().joules(), 2.0, 0.1);
}

TEST(Energy, RowMissesCostMoreActivateEnergyThanASequentialStream) {
  const System system = sim::dram_preset_system("HBM3-6400", "test", {});
  auto memtest = [&](const char* pattern) {
    sim::MemtestOptions o;
    o.pattern = pattern;
    o.requests = 20000;
    o.request_bytes = 64;
    o.outstanding = 512;
    return sim::run_memtest(system, o).memory_stats().energy();
  };
  const MemoryEnergy sequential = memtest("sequential");
  const MemoryEnergy random = memtest("random");
  // The same bytes: the same column and I/O energy.
  EXPECT_DOUBLE_EQ(random.read_write(), sequential.read_write());
  EXPECT_DOUBLE_EQ(random.io(), sequential.io());
  // A 1 KiB row serves 32 bursts in sequence, about one at random.
  EXPECT_GT(random.activate(), 10 * sequential.activate());
  EXPECT_GT(random.total(), sequential.total());
}

// Each component is its events, counted by the units and the DRAM model,
// times the per-event energy of npu-hbm3 (its HBM3 preset and the core
// defaults), worked out here by hand.
TEST(Energy, EachComponentIsItsEventsTimesTheirEnergy) {
  const System system = hbm3_npu();
  sim::WorkloadOptions w;
  w.layer = "tiny";
  w.batch = 4;
  w.kv_len = 64;
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  sim::SimulationInput in;
  in.system = &system;
  in.program = &c.program;
  in.tokens = c.workload.tokens();
  const Report r = sim::simulate(in);
  auto parts = components(r);
  const double t = r.seconds();
  const auto& d = r.memory().dram().total();
  const double bits = 8.0 * static_cast<double>(d.read_bytes() + d.write_bytes());
  ASSERT_GT(d.act(), 0u);
  EXPECT_NEAR(parts["memory.activate"], d.act() * 0.809e-9, 1e-15);
  EXPECT_NEAR(parts["memory.read_write"], bits * 1.994e-12, 1e-15);
  EXPECT_NEAR(parts["memory.io"], bits * 0.267e-12, 1e-15);
  EXPECT_NEAR(parts["memory.background"], 160 * 26.84e-3 * t, 1e-15);  // 5 stacks x 32 PCs
  // One REFpb per pseudo-channel every tREFI / 32 banks = 121.875 ns, each
  // 1/32 of a REFab's 9.797 nJ: the count is whole refreshes, hence 5%.
  EXPECT_NEAR(parts["memory.refresh"], 160 * t / 3900e-9 * 9.797e-9,
              0.05 * parts["memory.refresh"]);
  EXPECT_NEAR(parts["arrays.mac"], static_cast<double>(r.compute().macs()) * 0.59e-12, 1e-15);
  EXPECT_NEAR(parts["arrays.static"], 32 * 128 * 128 * 30e-6 * t, 1e-15);  // 32 arrays
  EXPECT_NEAR(parts["vector.static"], 2048 * 1e-3 * t, 1e-15);             // 2048 lanes
  EXPECT_NEAR(parts["sram.static"], 64 * 15e-3 * t, 1e-15);                // 64 MiB
  // The scratchpad takes every DMA byte, and the tiles' and vector ops' too.
  const double dma =
      static_cast<double>(r.traffic().read().total() + r.traffic().written().total());
  EXPECT_GT(parts["sram.access"], dma * 1.25e-12);
  EXPECT_GT(parts["vector.ops"], 0);
  double sum = 0;
  for (const auto& part : r.energy().components()) sum += part.joules();
  EXPECT_NEAR(sum, r.energy().joules(), 1e-15);
  EXPECT_NEAR(r.energy().joules_per_token() * 4, r.energy().joules(), 1e-15);
}

TEST(Energy, MacEnergyFollowsTheTypeTheArraysComputeIn) {
  const System system = test::preset();  // defaults: 16-bit 0.59 pJ, int8 0.10, int4 0.05
  auto mac_joules = [&](DType b, DType a) {
    test::ProgramMaker p;
    MatrixOp& op = *p.gemm(128, 256, 64).mutable_matrix();
    op.set_dtype(b);
    op.set_a_dtype(a);
    return components(test::run(system, p.program()))["arrays.mac"];
  };
  const double macs = 128.0 * 256 * 64;
  EXPECT_NEAR(mac_joules(FP16, DTYPE_UNSPECIFIED), macs * 0.59e-12, 1e-15);
  EXPECT_NEAR(mac_joules(INT8, DTYPE_UNSPECIFIED), macs * 0.10e-12, 1e-15);
  // Weight-only quantisation: int4 weights, fp16 activations compute in fp16.
  EXPECT_NEAR(mac_joules(INT4, FP16), macs * 0.59e-12, 1e-15);
  EXPECT_NEAR(mac_joules(INT4, INT4), macs * 0.05e-12, 1e-15);
}

TEST(Energy, StaticPowerFollowsTheUnitsAndTheTime) {
  const System system = test::preset({"core.energy.other_static_w=2"});
  test::ProgramMaker p;
  p.gemm(128, 1024, 128);
  const Report r = test::run(system, p.program());
  auto parts = components(r);
  EXPECT_NEAR(parts["other.static"], 2 * r.seconds(), 1e-15);
  const auto& a = system.core().array();
  EXPECT_NEAR(parts["arrays.static"], a.count() * a.rows() * a.cols() * 30e-6 * r.seconds(), 1e-15);
}

TEST(Energy, PeakPowerIsTheAverageWhenTheRunFitsOneWindow) {
  const System system = hbm3_npu();
  test::ProgramMaker p;
  p.load(p.tensor(WEIGHT, 1 << 20), 1 << 20);
  sim::SimulationInput in;
  in.system = &system;
  in.program = &p.program();
  in.power_window_us = 1000;
  const Report wide = sim::simulate(in);
  EXPECT_NEAR(wide.energy().peak_w(), wide.energy().average_w(), 1e-9);
  in.power_window_us = 0.05;  // the stream's start and end draw less than its middle
  const Report narrow = sim::simulate(in);
  EXPECT_DOUBLE_EQ(narrow.energy().joules(), wide.energy().joules());
  EXPECT_GT(narrow.energy().peak_w(), 1.05 * narrow.energy().average_w());
}

TEST(Energy, NegativeEnergiesAreRefusedByName) {
  EXPECT_NE(test::error_of([] {
              (void)test::preset({"core.energy.mac_int8_pj=-1"});
            }).find("core.energy.mac_int8_pj: must be between 0 and 1000000, not -1"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)sim::dram_preset_system("HBM3-6400", "test", {"memory.dram.energy.act_nj=-2"});
            }).find("energy.act_nj: must be between 0 and 1000 (nJ), not -2"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)test::preset({"memory.ideal.pj_per_bit=-0.5"});
            }).find("memory.ideal.pj_per_bit: must be between 0 and 1000 (pJ/bit), not -0.5"),
            std::string::npos);
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

// A run that waits 1 ms on memory, metered in 1 ns windows: the windows with
// nothing scheduled are sampled as one (the meter wakes per event, not a
// million times), with the same energy and the same peak as 10 us windows'
// busy one.
TEST(Energy, IdleWindowsAreSampledAsOne) {
  const System system = test::preset({"memory.ideal.latency_ns=1000000"});
  test::ProgramMaker p;
  p.load(p.tensor(WEIGHT, 1 << 20), 1 << 20);
  sim::SimulationInput in;
  in.system = &system;
  in.program = &p.program();
  in.power_window_us = 0.001;
  sim::TraceOptions trace;  // the timeline holds one counter event per sample
  trace.path = ::testing::TempDir() + "idle_windows.json";
  in.trace = &trace;
  const Report fine = sim::simulate(in);
  const std::string timeline = read_file(trace.path);
  uint64_t samples = 0;
  for (size_t at = 0; (at = timeline.find("\"power W\"", at)) != std::string::npos; ++at) ++samples;
  in.trace = nullptr;
  in.power_window_us = 10;
  const Report coarse = sim::simulate(in);
  EXPECT_GT(fine.seconds(), 1e-3);
  EXPECT_DOUBLE_EQ(fine.energy().joules(), coarse.energy().joules());
  EXPECT_GT(samples, 0u);
  EXPECT_LT(samples, 10000u);  // of 10^6 windows of 1 ns
  EXPECT_GT(fine.energy().peak_w(), coarse.energy().peak_w());
}

}  // namespace
}  // namespace npusim

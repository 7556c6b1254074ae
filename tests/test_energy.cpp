// Energy and power: per-event energies times the events counted, DRAM
// energy from the memory's own command and byte counters, components that
// add up, and config errors that name the field.
#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "sim/memtest.h"
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
  return sim::load_system(test::source_path("examples/hw/npu-hbm3.textproto"), {});
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

TEST(Energy, TheTotalIsTheSumOfItsComponents) {
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
  const Energy& e = r.energy();
  ASSERT_EQ(in.tokens, 4u);
  double sum = 0, shares = 0;
  for (const auto& part : e.components()) {
    EXPECT_GE(part.joules(), 0) << part.name();
    sum += part.joules();
    shares += part.share();
  }
  EXPECT_NEAR(sum, e.joules(), 1e-15);
  EXPECT_NEAR(shares, 1.0, 1e-12);
  auto parts = components(r);
  for (const char* name : {"arrays.mac", "vector.ops", "sram.access", "memory.activate",
                           "memory.read_write", "memory.io", "memory.background"}) {
    EXPECT_GT(parts[name], 0) << name;
  }
  // The memory's part is what the memory model reports.
  EXPECT_NEAR(parts["memory.activate"] + parts["memory.read_write"] + parts["memory.io"] +
                  parts["memory.refresh"] + parts["memory.background"],
              r.memory().energy().total(), 1e-15);
  EXPECT_NEAR(e.average_w(), e.joules() / r.seconds(), 1e-9);
  EXPECT_GE(e.peak_w(), e.average_w());
  EXPECT_NEAR(e.joules_per_token() * 4, e.joules(), 1e-15);
  EXPECT_NEAR(e.tokens_per_joule() * e.joules_per_token(), 1.0, 1e-12);
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
            }).find("core.energy.mac_int8_pj: must be >= 0"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)sim::dram_preset_system("HBM3-6400", "test", {"memory.dram.energy.act_nj=-2"});
            }).find("energy.act_nj: must be >= 0"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)test::preset({"memory.ideal.pj_per_bit=-0.5"});
            }).find("memory.ideal.pj_per_bit: must be >= 0"),
            std::string::npos);
}

}  // namespace
}  // namespace npusim

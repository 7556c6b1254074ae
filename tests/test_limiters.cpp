// The limiter accounting: each resource's busy share against its closed form
// on a microbenchmark, and the limiter named where the wall is known.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

#include "arch/dataflow.h"
#include "memory/dram/spec.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

const ResourceStats& resource(const Report& r, const std::string& name) {
  for (const ResourceStats& s : r.resources()) {
    if (s.name() == name) return s;
  }
  ADD_FAILURE() << "no resource " << name;
  static const ResourceStats none;
  return none;
}

uint64_t stalled_on(const Report& r, const std::string& cause) {
  for (const StallCause& c : r.stalls()) {
    if (c.cause() == cause) return c.cycles();
  }
  return 0;
}

// A program that loads `loads` transfers of `bytes` at `addr(i)`, one after
// another on the DMA queue.
Program loads(uint64_t count, uint64_t bytes, const std::function<uint64_t(uint64_t)>& addr) {
  test::ProgramMaker p;
  const uint32_t t = p.tensor(WEIGHT, uint64_t{1} << 40);
  for (uint64_t i = 0; i < count; ++i) p.load(t, bytes, addr(i));
  return p.program();
}

Report decode(const System& system, uint32_t layers = 1) {
  sim::WorkloadOptions w;
  w.model = test::source_path("examples/models/llama2-7b.json");
  w.kv_len = 2048;
  w.layers = layers;
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  return test::run(system, c.program);
}

System hbm3(const std::vector<std::string>& sets = {}) {
  return test::hw("npu-hbm3", sets);
}

TEST(Limiters, ScratchpadPortShareIsItsBytesOverBanksTimesWidthTimesCycles) {
  // Memory far faster than the port: the port is the wall.
  const System s =
      test::preset({"memory.ideal.bandwidth_gbps=100000", "memory.ideal.latency_ns=0"});
  const uint64_t bytes = 64ull << 20;
  const Report r = test::run(s, loads(16, bytes / 16, [&](uint64_t i) { return i * bytes / 16; }));
  const double closed = static_cast<double>(bytes) / (32.0 * 64 * static_cast<double>(r.cycles()));
  EXPECT_NEAR(resource(r, "scratchpad DMA port").busy_share(), closed, 1e-4);
  EXPECT_GT(closed, 0.99);
  EXPECT_EQ(r.limiter().resource(), "scratchpad DMA port");
  EXPECT_NEAR(resource(r, "memory bus").busy_share(), 2048.0 / 100000, 1e-3);
}

TEST(Limiters, FewSlotsAndShortRequestsNameTheDmaSlots) {
  // Little's law: 2 requests of 64 B in flight over 100 ns of latency move
  // 2 x 64 B / (100 ns + 64 B / 1 TB/s) = 1.28 GB/s; the memory bus is idle.
  const System s = test::preset({"core.dma.outstanding=2", "core.dma.max_request_bytes=64"});
  const uint64_t bytes = 256 * 1024;
  const Report r = test::run(s, loads(1, bytes, [](uint64_t) { return 0; }));
  const double requests = static_cast<double>(bytes) / 64;
  const double held_ps = 100e3 + 64 / 1e3 * 1e3;  // latency + 64 B at 1 B/ps
  const double closed = requests * held_ps / (2.0 * r.seconds() * 1e12);
  EXPECT_NEAR(resource(r, "DMA slots").busy_share(), closed, 1e-3);
  EXPECT_GT(closed, 0.98);
  EXPECT_EQ(r.limiter().resource(), "DMA slots");
  EXPECT_LT(resource(r, "memory bus").busy_share(), 0.01);
}

TEST(Limiters, FewBytesInFlightNameTheDmaBytesInFlight) {
  // 8 KiB in flight (a GPU's kind of limit, core.dma.outstanding_bytes) as
  // 2 KiB requests, with slots to spare: 4 requests over 100 ns + 2 ns each
  // move 8 KiB / 102 ns = 80 GB/s; the memory bus (1 TB/s) idles.
  const System s = test::preset({"core.dma.outstanding=64", "core.dma.max_request_bytes=2048",
                                 "core.dma.outstanding_bytes=8192"});
  const uint64_t bytes = 1 << 20;
  const Report r = test::run(s, loads(1, bytes, [](uint64_t) { return 0; }));
  const double held_ps = 100e3 + 2048 / 1e3 * 1e3;  // latency + 2 KiB at 1 B/ps
  const double closed = static_cast<double>(bytes) * held_ps / (8192.0 * r.seconds() * 1e12);
  EXPECT_NEAR(resource(r, "DMA bytes in flight").busy_share(), closed, 1e-3);
  EXPECT_GT(closed, 0.98);
  EXPECT_EQ(r.limiter().resource(), "DMA bytes in flight");
  EXPECT_NEAR(static_cast<double>(bytes) / r.seconds() / 1e9, 8192.0 / 102.048, 1.0);
  // The slots were far from full: 4 of 64 held.
  EXPECT_LT(resource(r, "DMA slots").busy_share(), 0.07);
}

TEST(Limiters, ASlowIssueRateNamesTheDmaIssue) {
  // One 64 B request every 10 cycles: 6.4 GB/s, whatever the memory.
  const System s = test::preset({"core.dma.requests_per_cycle=0.1", "core.dma.max_request_bytes=64",
                                 "core.dma.outstanding=256"});
  const uint64_t bytes = 64 * 1024;
  const Report r = test::run(s, loads(1, bytes, [](uint64_t) { return 0; }));
  EXPECT_EQ(r.limiter().resource(), "DMA issue");
  // Requests over (rate x cycles), the last one's latency aside.
  EXPECT_NEAR(resource(r, "DMA issue").busy_share(),
              (bytes / 64.0) / (0.1 * static_cast<double>(r.cycles())), 0.02);
  EXPECT_GT(resource(r, "DMA issue").busy_share(), 0.98);
}

TEST(Limiters, AnIssueRateThatRunsPastTheClockIsABadInputNotAnOverflow) {
  // One request per 1e300 cycles: the second would issue past 2^64 ps, which
  // no simulation reaches (a float-to-integer overflow before it was caught).
  const System s = test::preset({"core.dma.requests_per_cycle=1e-300"});
  EXPECT_NE(test::error_of([&] {
              (void)test::run(s, loads(1, 1 << 20, [](uint64_t) { return 0; }));
            }).find("core.dma: a request would leave the scratchpad port at"),
            std::string::npos);
}

TEST(Limiters, RandomShortReadsNameTheDramActivations) {
  // 64 B reads at random rows of one HBM3 stack, with slots enough for the
  // row cycle: every read opens a row, so activations cap the rate, and the
  // data bus idles most of the time.
  const System s =
      hbm3({"memory.dram.stacks=1", "core.dma.outstanding=4096", "core.dma.max_request_bytes=64"});
  uint64_t x = 12345;
  const Report r = test::run(s, loads(20000, 64, [&](uint64_t) {
                               x = x * 6364136223846793005ull + 1442695040888963407ull;
                               return ((x >> 20) % (uint64_t{16} << 30)) & ~uint64_t{63};
                             }));
  EXPECT_EQ(r.limiter().resource(), "DRAM activations");
  EXPECT_GT(r.limiter().busy_share(), 0.8);
  EXPECT_LT(resource(r, "DRAM bus").busy_share(), 0.75 * r.limiter().busy_share());
  // The activation count is the DRAM's own.
  const ResourceStats& act = resource(r, "DRAM activations");
  EXPECT_DOUBLE_EQ(act.work(), static_cast<double>(r.memory().dram().total().act()));
}

TEST(Limiters, DramBusShareIsDataClocksOverChannelsTimesClocks) {
  const System s = hbm3({"memory.dram.stacks=1"});
  const uint64_t bytes = 32ull << 20;
  const Report r = test::run(s, loads(32, bytes / 32, [&](uint64_t i) { return i * bytes / 32; }));
  const memory::dram::DramSpec spec = memory::dram::resolve_spec(s.memory().dram(), "t", "memory");
  const double clocks =
      static_cast<double>(bytes) / static_cast<double>(spec.burst_bytes()) * spec.burst_cycles;
  const ResourceStats& bus = resource(r, "DRAM bus");
  EXPECT_DOUBLE_EQ(bus.work(), clocks);
  EXPECT_NEAR(bus.busy_share(), clocks / (spec.total_channels() * r.seconds() * 1e12 / spec.tck_ps),
              1e-9);
  EXPECT_EQ(r.limiter().resource(), "DRAM bus");
  EXPECT_GT(bus.busy_share(), 0.9);
}

TEST(Limiters, ArraySharesAreTheTilesLoadAndStreamCyclesOverArraysTimesCycles) {
  // Decode-shaped tiles (one row against a 128 x 512 weight block) back to
  // back on one double-buffered array: each fold streams one row and waits
  // for the next 128 x 128 weights to shift in (rows - 1 cycles of its
  // 128). Each tile after the first pipelines behind the one before: it
  // adds folds x max(T, rows) cycles (GemmTiming::steady_cycles), of which
  // its load cycles less the first preload wait for weights (dataflow.h).
  const System s = test::preset({"core.array.count=1"});
  test::ProgramMaker p;
  const uint64_t tiles = 50;
  for (uint64_t i = 0; i < tiles; ++i) {  // A at 0, B at 4 KiB, the outputs at 1 MiB
    MatrixOp& op = *p.gemm(1, 128, 512).mutable_matrix();
    op.set_spm_b(4096);
    op.set_spm_out(1 << 20);
  }
  const Report r = test::run(s, p.program());
  const auto* ws = arch::DataflowRegistry::find(WEIGHT_STATIONARY);
  const arch::GemmTiming t = arch::gemm_timing(*ws, {128, 128, true}, {1, 128, 512});
  ASSERT_EQ(t.load_cycles, 128 + (t.folds - 1) * 127);
  const double load = static_cast<double>(t.load_cycles + (tiles - 1) * (t.load_cycles - 128));
  const double busy = static_cast<double>(t.cycles + (tiles - 1) * t.folds * 128);
  const double cycles = static_cast<double>(r.cycles());
  EXPECT_EQ(r.cycles(), static_cast<uint64_t>(busy));
  EXPECT_NEAR(resource(r, "array operand load").busy_share(), load / cycles, 1e-9);
  EXPECT_NEAR(resource(r, "array compute").busy_share(), (busy - load) / cycles, 1e-9);
  EXPECT_EQ(r.limiter().resource(), "array operand load");
}

TEST(Limiters, VectorLanesShareIsTheOpsCyclesOverCycles) {
  test::ProgramMaker p;
  for (int i = 0; i < 10; ++i) p.vec(EXP, 1 << 20);
  const Report r = test::run(test::preset(), p.program());
  EXPECT_NEAR(resource(r, "vector lanes").busy_share(),
              static_cast<double>(r.compute().vector_cycles()) / static_cast<double>(r.cycles()),
              1e-6);
  EXPECT_EQ(r.limiter().resource(), "vector lanes");
}

TEST(Limiters, DecodeOnIdealMemoryNamesTheMemoryBus) {
  const Report r = decode(test::preset());
  EXPECT_EQ(r.limiter().resource(), "memory bus");
  EXPECT_GT(r.limiter().busy_share(), 0.95);
  // The vector unit waits on matmuls whose weights stream in: memory.
  EXPECT_GT(stalled_on(r, "memory bus"), r.stall_memory_cycles() / 2);
}

TEST(Limiters, Hbm4OnNpuHbm3NamesTheScratchpadPortAndWiderPortsTheArraysOperandLoad) {
  // The DMA port (64 banks x 64 B at 1 GHz, 4.1 TB/s) caps HBM4 (8 TB/s).
  const Report hbm4 = decode(hbm3({"memory.dram.preset=\"HBM4-8000\""}));
  EXPECT_EQ(hbm4.limiter().resource(), "scratchpad DMA port");
  EXPECT_GT(hbm4.limiter().busy_share(), 0.95);
  EXPECT_LT(resource(hbm4, "DRAM bus").busy_share(), 0.5);
  // The units' memory stalls are charged to it, not to the DRAM.
  EXPECT_GT(stalled_on(hbm4, "scratchpad DMA port"), 10 * stalled_on(hbm4, "DRAM bus"));

  // Twice the banks (8.2 TB/s, as fast as the 32 arrays take in fp16
  // weights, 32 x 128 x 2 B a cycle): the token takes about half as long;
  // four times: the arrays' operand load path is the wall, and the DRAM
  // runs at three quarters of its peak.
  const Report x2 = decode(hbm3({"memory.dram.preset=\"HBM4-8000\"", "core.scratchpad.banks=128"}));
  EXPECT_LT(x2.seconds(), 0.6 * hbm4.seconds());
  EXPECT_LT(resource(x2, "scratchpad DMA port").busy_share(), 0.95);
  EXPECT_GT(resource(x2, "array operand load").busy_share(), 0.7);
  const Report x4 = decode(hbm3({"memory.dram.preset=\"HBM4-8000\"", "core.scratchpad.banks=256"}));
  EXPECT_EQ(x4.limiter().resource(), "array operand load");
  EXPECT_GT(resource(x4, "DRAM bus").busy_share(), 0.7);
  EXPECT_LT(resource(x4, "scratchpad DMA port").busy_share(), 0.5);
}

TEST(Limiters, LargeBatchPrefillNamesTheArrays) {
  sim::WorkloadOptions w;
  w.phase = "prefill";
  w.prompt_len = 1024;
  const System s = test::preset({"core.scratchpad.capacity_bytes=67108864"});
  const sim::Compiled c = sim::compile_workload(s, "test", w);
  const Report r = test::run(s, c.program);
  EXPECT_EQ(r.limiter().resource(), "array compute");
  EXPECT_EQ(r.roofline().bound(), "array compute");
}

TEST(Limiters, MemoryStallsAreSplitOverTheMemoryPathsResourcesOnly) {
  // Each unit's memory stalls go to memory-path resources (or "memory
  // latency"), its waits on the arrays or lanes to theirs: the causes of
  // each kind add up to the unit's stall cycles of that kind (to the cycle
  // rounding of a few causes).
  const Report r = decode(hbm3({"memory.dram.preset=\"HBM4-8000\""}));
  std::set<std::string> memory_path = {"memory latency"};
  for (const ResourceStats& res : r.resources()) {
    if (res.path() == "memory") memory_path.insert(res.name());
  }
  for (const UnitStats& u : r.units()) {
    uint64_t memory = 0;
    for (const StallCause& c : u.stalls()) memory += memory_path.count(c.cause()) ? c.cycles() : 0;
    EXPECT_NEAR(static_cast<double>(memory), static_cast<double>(u.stall_memory_cycles()), 8)
        << u.unit();
  }
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

TEST(Limiters, NoOpPassesARoofInDecodeOrPrefillOnThreePresets) {
  for (const char* hw : {"npu-128x128-ideal", "npu-hbm3", "a100-like"}) {
    const System s = test::hw(hw);
    for (const char* phase : {"decode", "prefill"}) {
      sim::WorkloadOptions w;
      w.model = test::source_path("examples/models/llama2-7b.json");
      w.phase = phase;
      w.kv_len = 2048;
      w.prompt_len = 512;
      w.layers = 2;
      const Report r = test::run_workload(s, w);
      const Roofline& roof = r.roofline();
      for (const OpStats& o : r.ops()) {
        EXPECT_LE(o.achieved_gflops(), roof.compute_roof_gflops() * (1 + 1e-9))
            << hw << " " << phase << " " << o.node();
        EXPECT_LE(o.achieved_gbps(), roof.peak_memory_gbps() * (1 + 1e-9))
            << hw << " " << phase << " " << o.node();
        EXPECT_FALSE(o.bound().empty()) << o.node();
      }
      for (const Breakdown& b : r.classes()) {
        EXPECT_LE(b.achieved_gflops(), roof.compute_roof_gflops() * (1 + 1e-9)) << b.name();
        EXPECT_LE(b.achieved_gbps(), roof.peak_memory_gbps() * (1 + 1e-9)) << b.name();
      }
    }
  }
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

TEST(ResourceLedger, WindowsMergeWithoutLosingWork) {
  ResourceLedger ledger;
  const auto a = ledger.add_resource({"a", ResourcePath::Memory, "B", 1.0, "", ""});
  const auto b = ledger.add_column();
  const uint64_t window = ledger.window_ps();
  // Work spread evenly over 1.5 windows, then far beyond the first windows'
  // reach so that they merge several times.
  ledger.add(a, 0, 3 * window / 2, 300.0);
  ledger.add_at(b, window / 2, 7.0);
  EXPECT_DOUBLE_EQ(ledger.work(a, 0, window), 200.0);
  ledger.add_at(a, window * ResourceLedger::kMaxWindows * 8, 5.0);
  EXPECT_GE(ledger.window_ps(), 8 * window);
  EXPECT_LE(ledger.windows(), ResourceLedger::kMaxWindows);
  EXPECT_DOUBLE_EQ(ledger.total(a), 305.0);
  EXPECT_DOUBLE_EQ(ledger.total(b), 7.0);
  // The first 1.5 windows now lie in one window: all its work.
  EXPECT_DOUBLE_EQ(ledger.work(a, 0, ledger.window_ps()), 300.0);
}

TEST(ResourceLedger, WorkSpreadOverASpanGoesToEachWindowByItsShareOfTheSpan) {
  ResourceLedger ledger;
  const auto a = ledger.add_resource({"a", ResourcePath::Memory, "B", 1.0, "", ""});
  const auto b = ledger.add_column();
  const auto c = ledger.add_column();
  const uint64_t w = ledger.window_ps();
  // From a quarter into window 1 to half into window 4: 3/4 + 1 + 1 + 1/2
  // windows, so 3.25 windows of work at 100 per window.
  ledger.add(a, w + w / 4, 4 * w + w / 2, 325.0);
  ledger.add(w + w / 4, 4 * w + w / 2, b, 325.0, c, 650.0);  // two columns at once
  const double expect[] = {0.0, 75.0, 100.0, 100.0, 50.0, 0.0};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_DOUBLE_EQ(ledger.at(i, a), expect[i]) << "window " << i;
    EXPECT_DOUBLE_EQ(ledger.at(i, b), expect[i]) << "window " << i;
    EXPECT_DOUBLE_EQ(ledger.at(i, c), 2 * expect[i]) << "window " << i;
  }
  // Within one window, or at an instant: all of it there.
  ledger.add(a, 2 * w + 1, 3 * w - 1, 9.0);
  ledger.add(a, 3 * w + 5, 3 * w + 5, 4.0);
  EXPECT_DOUBLE_EQ(ledger.at(2, a), 109.0);
  EXPECT_DOUBLE_EQ(ledger.at(3, a), 104.0);
}

}  // namespace
}  // namespace npusim

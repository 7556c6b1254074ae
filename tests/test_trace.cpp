// The timeline trace: valid trace-event JSON whose unit tracks account for
// every busy and stall cycle of the report, bandwidth counters that carry
// the bytes moved, and the time and layer filters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

struct Traced {
  Report report;
  nlohmann::json trace;
};

Traced traced(const System& system, const sim::WorkloadOptions& w, sim::TraceOptions options,
              double power_window_us = 10) {
  options.path = ::testing::TempDir() + "/" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  sim::SimulationInput in;
  in.system = &system;
  in.program = &c.program;
  in.trace = &options;
  in.power_window_us = power_window_us;
  Traced t;
  t.report = sim::simulate(in);
  std::ifstream f(options.path);
  t.trace = nlohmann::json::parse(f);  // throws unless valid JSON
  return t;
}

sim::WorkloadOptions tiny_layer() {
  sim::WorkloadOptions w;
  w.layer = "tiny";
  w.batch = 2;
  w.kv_len = 64;
  return w;
}

uint64_t ps(const nlohmann::json& us) {
  return static_cast<uint64_t>(std::llround(us.get<double>() * 1e6));
}

TEST(Trace, UnitTracksDoNotOverlapAndSumToTheReportsCycles) {
  const System system = test::preset();
  const Traced t = traced(system, tiny_layer(), {});
  // Per unit track (tid 1 dma, 2 matrix, 3 vector): spans by name, in ps.
  std::map<int, std::vector<std::pair<uint64_t, uint64_t>>> spans;
  std::map<int, std::map<std::string, uint64_t>> sums;
  size_t instructions = 0;
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["ph"] == "b") ++instructions;
    if (e["ph"] != "X") continue;
    const int tid = e["tid"];
    const uint64_t start = ps(e["ts"]), dur = ps(e["dur"]);
    spans[tid].emplace_back(start, start + dur);
    sums[tid][e["name"]] += dur;
  }
  const uint64_t clock_ps = 1000;  // 1 GHz
  const std::map<std::string, int> tid = {{"dma", DMA}, {"matrix", MATRIX}, {"vector", VECTOR}};
  for (const UnitStats& u : t.report.units()) {
    const int q = tid.at(u.unit());
    auto& s = spans[q];
    std::sort(s.begin(), s.end());
    for (size_t i = 1; i < s.size(); ++i) EXPECT_LE(s[i - 1].second, s[i].first) << u.unit();
    auto cycles = [&](const char* name) { return (sums[q][name] + clock_ps / 2) / clock_ps; };
    EXPECT_EQ(cycles("busy"), u.busy_cycles()) << u.unit();
    EXPECT_EQ(cycles("stall: memory"), u.stall_memory_cycles()) << u.unit();
    // Waits on the arrays or the vector lanes computing, or on a unit idle
    // or waiting itself: the report's dependency stalls.
    EXPECT_EQ((sums[q]["stall: matrix"] + sums[q]["stall: vector"] + sums[q]["stall: dependency"] +
               clock_ps / 2) /
                  clock_ps,
              u.stall_dependency_cycles())
        << u.unit();
    EXPECT_EQ(cycles("stall: scratchpad space"), u.stall_spm_space_cycles()) << u.unit();
  }
  // One slice per instruction.
  uint64_t executed = 0;
  for (const UnitStats& u : t.report.units()) executed += u.instructions();
  EXPECT_EQ(instructions, executed);
}

// Two tensor-parallel chips: a process each for core and memory, each
// chip's units busy, and a busy-share track for each direction of the link
// whose share over the run is the report's.
TEST(Trace, EachChipHasItsProcessesAndEachLinkItsTrack) {
  const System system =
      test::hw("npu-hbm3", {"topology.chips=2", "topology.chip_link.bandwidth_gbps=100",
                            "topology.chip_link.latency_ns=1000"});
  const Traced t = traced(system, tiny_layer(), {});
  std::map<int, std::string> processes;
  std::map<int, uint64_t> busy_ps;              // per process, its units' busy time
  std::map<std::string, double> link_share_us;  // per link, busy % x window
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["name"] == "process_name") processes[e["pid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "X" && e["name"] == "busy") busy_ps[e["pid"].get<int>()] += ps(e["dur"]);
    if (e["ph"] == "C" && e["name"] == "busy %") {
      for (const auto& [name, share] : e["args"].items()) {
        if (name.rfind("chip link", 0) == 0) link_share_us[name] += share.get<double>();
      }
    }
  }
  EXPECT_EQ(processes,
            (std::map<int, std::string>{
                {1, "chip0 core0"}, {2, "chip0 memory"}, {3, "chip1 core0"}, {4, "chip1 memory"}}));
  EXPECT_GT(busy_ps[1], 0u);
  EXPECT_EQ(busy_ps[3], busy_ps[1]);  // the chips do the same work
  ASSERT_EQ(link_share_us.size(), 2u);
  for (const NetworkHopStats& hop : t.report.network()) {
    if (hop.name().rfind("chip link", 0) != 0) continue;
    EXPECT_GT(link_share_us.at(hop.name()), 0.0) << hop.name();
  }
}

// Two cores on one chip: a process for each core, both working.
TEST(Trace, EachCoreOfAChipHasItsProcess) {
  const System system = test::hw("npu-hbm3", {"topology.cores=2"});
  const Traced t = traced(system, tiny_layer(), {});
  std::map<int, std::string> processes;
  std::map<int, uint64_t> busy_ps;
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["name"] == "process_name") processes[e["pid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "X" && e["name"] == "busy") busy_ps[e["pid"].get<int>()] += ps(e["dur"]);
  }
  EXPECT_EQ(processes, (std::map<int, std::string>{{1, "core0"}, {2, "core1"}, {3, "memory"}}));
  EXPECT_GT(busy_ps[1], 0u);
  EXPECT_GT(busy_ps[2], 0u);
}

TEST(Trace, BandwidthCountersCarryTheBytesMovedPerStack) {
  const System system = test::hw("npu-hbm3");
  sim::TraceOptions o;
  o.counter_window_ps = 100000;  // 100 ns
  const Traced t = traced(system, tiny_layer(), o);
  double bytes = 0;
  std::set<std::string> lanes;
  double spm_peak_mib = 0;
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["ph"] != "C") continue;
    if (e["name"] == "scratchpad MiB") {
      spm_peak_mib = std::max(spm_peak_mib, e["args"]["in use"].get<double>());
    }
    if (e["name"] != "bandwidth GB/s") continue;
    for (const auto& [lane, gbps] : e["args"].items()) {
      lanes.insert(lane);
      bytes += gbps.get<double>() * 100e-9 * 1e9;  // GB/s over 100 ns
    }
  }
  EXPECT_EQ(lanes, (std::set<std::string>{"stack 0", "stack 1", "stack 2", "stack 3", "stack 4"}));
  const double moved =
      static_cast<double>(t.report.traffic().read().total() + t.report.traffic().written().total());
  EXPECT_NEAR(bytes, moved, 0.001 * moved);
  // The scratchpad in use over time: buffers were taken, never more than it holds.
  EXPECT_GT(spm_peak_mib, 0.0);
  EXPECT_LE(spm_peak_mib, 64.0);  // npu-hbm3: 64 MiB
}

TEST(Trace, PowerCountersAddUpToTheReportsEnergy) {
  const System system = test::hw("npu-hbm3");
  const Traced t = traced(system, tiny_layer(), {}, /*power_window_us=*/0.5);
  std::vector<std::pair<double, double>> samples;  // (from, watts), s and W
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["ph"] != "C" || e["name"] != "power W") continue;
    samples.emplace_back(e["ts"].get<double>() * 1e-6,
                         e["args"]["core"].get<double>() + e["args"]["memory"].get<double>());
  }
  ASSERT_GT(samples.size(), 4u);
  double joules = 0, peak = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double to = i + 1 < samples.size() ? samples[i + 1].first : t.report.seconds();
    joules += samples[i].second * (to - samples[i].first);
    if (to - samples[i].first >= 0.25e-6) peak = std::max(peak, samples[i].second);
  }
  // Watts are written to 1 mW: about 1e-5 of the figure.
  EXPECT_NEAR(joules, t.report.energy().joules(), 1e-4 * t.report.energy().joules());
  EXPECT_NEAR(peak, t.report.energy().peak_w(), 0.01);  // ts carries 1 ps (6 decimals)
}

TEST(Trace, CanBeLimitedToAWindowOfTimeAndToLayers) {
  const System system = test::preset();
  sim::WorkloadOptions w = tiny_layer();
  w.layers = 2;
  sim::TraceOptions o;
  o.from_ps = 4000000;  // 4 us: within layer 1 (the run takes ~10 us)
  o.to_ps = 8000000;    // 8 us
  o.first_layer = o.last_layer = 1;
  const Traced t = traced(system, w, o);
  size_t slices = 0, instructions = 0;
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["ph"] == "X") {
      ++slices;
      EXPECT_GE(ps(e["ts"]), o.from_ps);
      EXPECT_LE(ps(e["ts"]) + ps(e["dur"]), o.to_ps);
    }
    if (e["ph"] == "b") {
      ++instructions;
      EXPECT_EQ(e["name"].get<std::string>().rfind("layers.1.", 0), 0u) << e["name"];
    }
  }
  EXPECT_GT(slices, 0u);
  EXPECT_GT(instructions, 0u);
}

Report simulate(const System& system, const sim::WorkloadOptions& w) {
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  return test::run(system, c.program);
}

TEST(Roofline, DecodeAtBatch1SitsUnderTheMemoryRoof) {
  sim::WorkloadOptions w;  // one Llama-2-7B layer, batch 1, KV 2048
  w.kv_len = 2048;
  const Report r = simulate(test::preset(), w);
  const Roofline& roof = r.roofline();
  // 8 arrays and 1024 vector lanes at 1 GHz.
  EXPECT_DOUBLE_EQ(roof.compute_roof_gflops(), 2.0 * 8 * 128 * 128 + 1024);
  EXPECT_LT(roof.intensity(), roof.ridge_intensity());
  EXPECT_LT(roof.intensity(), 2.0);  // a weight byte feeds one MAC (fp16: 2 FLOP per 2 B)
  size_t matmuls = 0;
  double seconds = 0;
  for (const OpStats& o : r.ops()) {
    seconds += o.seconds();
    if (o.op() != "MATMUL") continue;
    ++matmuls;
    EXPECT_EQ(o.bound(), "memory bus") << o.node();
    EXPECT_GT(o.bound_share(), 0.8) << o.node();
    EXPECT_GT(o.achieved_gbps(), 0.8 * roof.memory_roof_gbps()) << o.node();
    EXPECT_LE(o.achieved_gbps(), roof.peak_memory_gbps()) << o.node();
  }
  EXPECT_EQ(matmuls, 7u);                    // q, k, v, o, gate, up, down
  EXPECT_NEAR(seconds, r.seconds(), 1e-12);  // time attributed by completion adds up
  double share = 0;
  for (const Breakdown& b : r.classes()) share += b.share();
  EXPECT_NEAR(share, 1.0, 1e-9);
}

TEST(Roofline, PrefillOfALongPromptReachesTheComputeRoof) {
  // A 1024-token prompt through one Llama-2-7B layer, with a scratchpad that
  // holds the prompt's activations (so the tiles reuse them): every weight
  // matmul is over the ridge and runs near the compute roof. (With 16 MiB
  // the activations are re-read per column block of the weights and the
  // intensity stays near the tile width, 128 FLOP/B: below the ridge.)
  sim::WorkloadOptions w;
  w.phase = "prefill";
  w.prompt_len = 1024;
  const Report r = simulate(test::preset({"core.scratchpad.capacity_bytes=67108864"}), w);
  const Roofline& roof = r.roofline();
  EXPECT_GT(roof.intensity(), roof.ridge_intensity());
  EXPECT_EQ(r.limiter().resource(), "array compute");
  for (const OpStats& o : r.ops()) {
    // An op's rates are over the whole time it was active, which for a
    // matmul begins when its first weights load under the op before it: it
    // shares the arrays for part of it, and stays under the roof.
    EXPECT_LE(o.achieved_gflops(), roof.compute_roof_gflops()) << o.node();
    if (o.op() != "MATMUL") continue;
    EXPECT_EQ(o.bound(), "array compute") << o.node();
    EXPECT_GT(o.bound_share(), 0.7) << o.node();
  }
  // The MLP's matmuls, together, run at over 80% of the roof.
  for (const Breakdown& b : r.classes()) {
    if (b.name() != "mlp") continue;
    EXPECT_GT(b.achieved_gflops(), 0.8 * roof.compute_roof_gflops());
    EXPECT_LE(b.achieved_gflops(), roof.compute_roof_gflops());
  }
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

// 1 ns bandwidth windows over a layer that waits 100 us per memory access:
// the windows with nothing in them are written once, not a million times,
// and the bytes the counters carry still add up to the report's.
TEST(Trace, EmptyCounterWindowsAreWrittenOnce) {
  const System system = test::preset({"memory.ideal.latency_ns=100000"});
  sim::TraceOptions o;
  o.counter_window_ps = 1000;
  const Traced t = traced(system, tiny_layer(), o);
  EXPECT_GT(t.report.seconds(), 1e-3);  // a million windows
  size_t counters = 0;
  double bytes = 0;
  for (const auto& e : t.trace["traceEvents"]) {
    if (e["name"] != "bandwidth GB/s") continue;
    ++counters;
    for (const auto& [lane, gbps] : e["args"].items()) bytes += gbps.get<double>();  // 1 ns each
  }
  EXPECT_LT(counters, 100000u);
  const double moved =
      static_cast<double>(t.report.traffic().read().total() + t.report.traffic().written().total());
  EXPECT_NEAR(bytes, moved, 1e-3 * moved);
}

}  // namespace
}  // namespace npusim

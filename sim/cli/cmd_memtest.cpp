// npusim memtest: drive a memory alone with a pattern or a trace.
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <iostream>

#include "common/error.h"
#include "memory/dram/spec.h"
#include "memory/pim/pim_spec.h"
#include "sim/cli/options.h"
#include "sim/config.h"
#include "sim/memtest.h"
#include "sim/output_file.h"
#include "sim/report_io.h"

namespace npusim::cli {
namespace {

void print(const MemtestReport& r) {
  fmt::print("memory              {}\n", r.memory());
  fmt::print("pattern             {} ({} requests{}, {} outstanding, {:.0f}% reads)\n", r.pattern(),
             r.requests(), r.request_bytes() > 0 ? fmt::format(" of {} B", r.request_bytes()) : "",
             r.outstanding(), 100.0 * r.read_fraction());
  fmt::print("peak bandwidth      {:.1f} GB/s\n", r.peak_bandwidth_gbps());
  fmt::print("achieved bandwidth  {:.1f} GB/s\n", r.achieved_bandwidth_gbps());
  fmt::print("efficiency          {:.1f}%\n", 100.0 * r.efficiency());
  fmt::print("latency             mean {:.1f} ns, p50 {:.1f} ns, p99 {:.1f} ns, max {:.1f} ns\n",
             r.latency().mean_ns(), r.latency().p50_ns(), r.latency().p99_ns(),
             r.latency().max_ns());
  if (r.memory_stats().has_dram()) {
    const auto& d = r.memory_stats().dram();
    const auto& t = d.total();
    fmt::print("row-hit rate        {:.1f}% (hits {}, misses {}, conflicts {})\n",
               100.0 * d.row_hit_rate(), t.row_hits(), t.row_misses(), t.row_conflicts());
    fmt::print("refresh overhead    {:.2f}% of channel time\n", 100.0 * d.refresh_overhead());
    fmt::print("data bus busy       {:.1f}%\n", 100.0 * d.data_bus_utilization());
    if (const auto spread = sim::channel_spread(d)) {
      fmt::print("  per channel       {}\n", sim::format_spread(*spread));
    }
    fmt::print("commands            ACT {}  PRE {}  RD {}  WR {}  REF {}\n", t.act(), t.pre(),
               t.rd(), t.wr(), t.ref());
  }
  const MemoryEnergy& e = r.memory_stats().energy();
  const double bits = r.achieved_bandwidth_gbps() * 1e9 * r.seconds() * 8;
  if (e.total() > 0 && bits > 0) {
    fmt::print(
        "energy              {:.3f} uJ, {:.2f} pJ/bit (activate {:.2f}, read/write {:.2f}, "
        "io {:.2f}, refresh {:.2f}, background {:.2f})\n",
        e.total() * 1e6, e.total() / bits * 1e12, e.activate() / bits * 1e12,
        e.read_write() / bits * 1e12, e.io() / bits * 1e12, e.refresh() / bits * 1e12,
        e.background() / bits * 1e12);
  }
  fmt::print("simulated           {:.3f} us\n", r.seconds() * 1e6);
}

int memtest(const std::vector<std::string>& argv) {
  Args args("memtest", argv);
  SystemOptions sys;
  sim::MemtestOptions o;
  std::string dram, report;
  bool list = false, quiet = false;
  add_system_options(args, sys);
  args.option("dram", &dram, "a DRAM preset instead of --system (see --list-presets)");
  args.flag("list-presets", &list, "print the built-in DRAM and PIM presets");
  args.option("pattern", &o.pattern, "sequential (default), random or strided");
  args.option("trace", &o.trace, "trace file: lines of 'time_ns R|W address bytes'");
  args.option("requests", &o.requests, "requests to issue (default 100000)", 1, 100000000);
  args.option("request-bytes", &o.request_bytes, "bytes per request (default 64)", 1, 1 << 26);
  args.option("stride", &o.stride, "strided: bytes between requests (default 4 x request)", 1,
              uint64_t{1} << 50);
  args.option("read-fraction", &o.read_fraction, "share of reads (default 1)", 0.0, 1.0);
  args.option("outstanding", &o.outstanding, "requests in flight (default 64)", 1, 65536);
  args.option("seed", &o.seed, "random seed (default 1)", 0, UINT64_MAX);
  args.option("footprint", &o.footprint, "bytes the pattern covers (default: all memory)", 1,
              uint64_t{1} << 50);
  args.option("memory", &o.memory,
              "which of the system's memories (its name; default the first), through its link");
  args.option("report", &report, "write the report as JSON to this file");
  args.flag("quiet", &quiet, "print nothing (with --report)");
  if (!args.parse()) return 0;
  if (list && args.given().size() > 1) {
    args.fail("list-presets", "takes no other option (it only lists the presets)");
  }
  if (!o.trace.empty()) {
    for (const char* flag :
         {"pattern", "requests", "request-bytes", "stride", "read-fraction", "seed", "footprint"}) {
      if (args.given(flag)) args.fail(flag, "cannot be used with --trace (the trace says)");
    }
  }
  if (args.given("stride") && o.pattern != "strided") {
    args.fail("stride", "applies only with --pattern strided");
  }
  // A bound on the simulated work: 2^40 bytes (1 TiB) is minutes of
  // simulation.
  if (o.requests * o.request_bytes > (uint64_t{1} << 40)) {
    args.fail("requests",
              fmt::format("{} requests of {} bytes exceed 2^40 bytes (1 TiB) of traffic",
                          o.requests, o.request_bytes));
  }
  if (!report.empty()) sim::OutputFile::check(report, "--report");
  if (list) {
    for (const auto& name : memory::dram::preset_names()) fmt::print("{}\n", name);
    // PIM memories: memory { pim { preset: NAME } }.
    for (const auto& name : memory::pim::preset_names()) fmt::print("{} (pim)\n", name);
    return 0;
  }
  System system;
  if (!dram.empty()) {
    if (!sys.system.empty()) throw UserError("npusim memtest: give --system or --dram, not both");
    system = sim::dram_preset_system(dram, "--dram " + dram, sys.sets);
  } else {
    system = load_system(sys);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const MemtestReport r = sim::run_memtest(system, o);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) {
    print(r);
    // Simulation speed (wall clock; not part of the report, which is deterministic).
    fmt::print("wall time           {:.3f} s ({:.3g} M requests/s, {:.3g} GB simulated per s)\n",
               wall, static_cast<double>(r.requests()) / wall / 1e6,
               r.achieved_bandwidth_gbps() * r.seconds() / wall);
  }
  if (!report.empty()) sim::write_json(r, report, "--report");
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(memtest, "drive the memory alone: bandwidth, latency, row hits, refresh",
                        memtest);

}  // namespace npusim::cli

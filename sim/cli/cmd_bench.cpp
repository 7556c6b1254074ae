// npusim bench: wall time to compile and to simulate a workload, and the
// process's peak memory.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/error.h"
#include "sim/cli/options.h"
#include "sim/simulator.h"

namespace npusim::cli {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int bench(const std::vector<std::string>& argv) {
  Args args("bench", argv);
  SystemOptions sys;
  sim::WorkloadOptions work;
  uint64_t repeat = 5;
  add_system_options(args, sys);
  add_workload_options(args, work);
  args.option("repeat", &repeat, "runs to time (default 5); the median is reported", 1, 1000);
  if (!args.parse()) return 0;
  require(repeat >= 1, "npusim bench", "--repeat", "must be >= 1");

  const System system = load_system(sys);
  using clock = std::chrono::steady_clock;
  std::vector<double> compile_ms, simulate_ms;
  Report report;
  uint64_t instructions = 0;
  std::string workload;
  for (uint64_t i = 0; i < repeat; ++i) {
    const auto t0 = clock::now();
    sim::Compiled c = sim::compile_workload(system, sys.system, work);
    const auto t1 = clock::now();
    sim::SimulationInput in;
    in.system = &system;
    in.program = &c.program;
    in.system_where = sys.system;
    report = sim::simulate(in);
    const auto t2 = clock::now();
    compile_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    simulate_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    workload = c.full.nodes_size() > 0 ? c.full.name() : c.graph.name();
    instructions = 0;
    for (const CoreProgram& core : c.program.cores()) {
      instructions +=
          static_cast<uint64_t>(core.dma_size() + core.matrix_size() + core.vector_size());
    }
  }
  fmt::print("workload       {} on {}\n", workload, sys.system);
  const auto cores = static_cast<uint64_t>(sim::chip_count(system)) * sim::cores_per_chip(system);
  fmt::print("instructions   {}{}\n", instructions,
             cores > 1 ? fmt::format(" ({} cores)", cores) : std::string());
  fmt::print("transactions   {}{}\n", report.traffic().transactions(),
             report.chips_size() > 1 ? " (chip 0's)" : "");
  fmt::print("simulated      {} cycles ({:.3f} ms)\n", report.cycles(), report.seconds() * 1e3);
  fmt::print("compile        {:.1f} ms (median of {})\n", median(compile_ms), repeat);
  fmt::print("simulate       {:.1f} ms (median of {})\n", median(simulate_ms), repeat);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  fmt::print("peak memory    {:.0f} MB (resident)\n", static_cast<double>(usage.ru_maxrss) / 1024);
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(bench, "time compiling and simulating a workload (wall clock)", bench);

}  // namespace npusim::cli

// npusim run: compile a workload (or take a program) and simulate it.
#include <fmt/format.h>

#include <iostream>

#include "common/error.h"
#include "sim/cli/options.h"
#include "sim/cli/progress.h"
#include "sim/memtest.h"
#include "sim/report_io.h"
#include "sim/roofline.h"
#include "sim/simulator.h"

namespace npusim::cli {
namespace {

int run(const std::vector<std::string>& argv) {
  Args args("run", argv);
  SystemOptions sys;
  sim::WorkloadOptions work;
  std::string report_path, program_path;
  bool quiet = false;
  add_system_options(args, sys);
  add_workload_options(args, work);
  args.option("program", &program_path, "simulate this program instead of compiling a workload");
  args.option("report", &report_path, "write the report as JSON to this file");
  args.flag("quiet", &quiet, "print no table and no progress");
  std::string trace_path, trace_layers;
  uint64_t trace_from_us = 0, trace_to_us = 0, trace_window_ns = 1000;
  args.option("trace", &trace_path,
              "write a timeline as Chrome/Perfetto trace JSON to this file (ui.perfetto.dev)");
  args.option("trace-from-us", &trace_from_us, "trace: from this simulated time, us (default 0)");
  args.option("trace-to-us", &trace_to_us,
              "trace: up to this simulated time, us (default: the end)");
  args.option("trace-layers", &trace_layers,
              "trace: instructions of these decoder layers only: N or FIRST-LAST");
  args.option("trace-bandwidth-ns", &trace_window_ns,
              "trace: bandwidth counter resolution, ns (default 1000)");
  bool roofline = false;
  std::string roofline_csv;
  args.flag("roofline", &roofline,
            "print the roofline: time, FLOPs, bytes and intensity per op class, layer and op, "
            "against the compute roof and the memory roof memtest sustains");
  args.option("roofline-csv", &roofline_csv, "write the per-op table as CSV to this file");
  double power_window_us = 10.0;
  args.option("power-window-us", &power_window_us,
              "the window the peak power is taken over, us (default 10)");
  if (!args.parse()) return 0;
  if (!(power_window_us >= 0.001 && power_window_us <= 1e6)) {
    throw UserError(
        fmt::format("--power-window-us: {} must be between 0.001 and 1e6 (us)", power_window_us));
  }

  sim::TraceOptions trace;
  trace.path = trace_path;
  trace.from_ps = trace_from_us * 1000000;
  if (trace_to_us != 0) trace.to_ps = trace_to_us * 1000000;
  if (trace.to_ps <= trace.from_ps) {
    throw UserError(fmt::format("--trace-to-us: {} must be after --trace-from-us {}", trace_to_us,
                                trace_from_us));
  }
  if (trace_window_ns == 0) throw UserError("--trace-bandwidth-ns: must be >= 1");
  trace.counter_window_ps = trace_window_ns * 1000;
  if (!trace_layers.empty()) {
    const size_t dash = trace_layers.find('-');
    try {
      size_t used = 0;
      trace.first_layer = std::stoi(trace_layers, &used);
      trace.last_layer = dash == std::string::npos
                             ? trace.first_layer
                             : std::stoi(trace_layers.substr(dash + 1), nullptr);
      if (dash == std::string::npos && used != trace_layers.size()) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw UserError("--trace-layers: '" + trace_layers + "' is not N or FIRST-LAST");
    }
    if (trace.first_layer < 0 || trace.last_layer < trace.first_layer) {
      throw UserError("--trace-layers: '" + trace_layers +
                      "' must be N or FIRST-LAST, FIRST <= LAST");
    }
  }

  const System system = load_system(sys);
  sim::SimulationInput input;
  input.system = &system;
  input.system_where = sys.system;
  Program program;
  Workload workload;
  if (program_path.empty()) {
    sim::Compiled compiled = sim::compile_workload(system, sys.system, work);
    program = std::move(compiled.program);
    workload = compiled.workload;
  } else {
    load_program(program_path, &program);
    workload.set_model(program.name());
    input.program_where = program_path;
  }
  input.program = &program;
  input.tokens = workload.tokens();
  input.power_window_us = power_window_us;
  if (!trace_path.empty()) input.trace = &trace;
  if (roofline) input.memory_roof_gbps = sim::sustained_bandwidth_gbps(system);
  Report report;
  {
    Progress progress(!quiet);
    input.progress = [&progress](uint64_t done, uint64_t total, uint64_t ps) {
      progress.update(done, total, ps);
    };
    report = sim::simulate(input);
  }
  *report.mutable_workload() = workload;
  if (!quiet) sim::print_table(report, std::cout);
  if (!quiet && roofline) sim::print_roofline(report, std::cout);
  if (!roofline_csv.empty()) sim::write_ops_csv(report, roofline_csv);
  if (!report_path.empty()) sim::write_json(report, report_path);
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(run, "simulate a workload on a system and report cycles, bytes, stalls",
                        run);

}  // namespace npusim::cli

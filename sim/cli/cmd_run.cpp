// npusim run: compile a workload (or take a program) and simulate it.
#include <fmt/format.h>

#include <iostream>

#include "common/error.h"
#include "sim/cli/options.h"
#include "sim/cli/progress.h"
#include "sim/memtest.h"
#include "sim/output_file.h"
#include "sim/report_io.h"
#include "sim/roofline.h"
#include "sim/simulator.h"

namespace npusim::cli {
namespace {

constexpr uint64_t kMaxTraceUs = 1000000000;  // 1000 s of simulated time

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
  args.option("trace-from-us", &trace_from_us, "trace: from this simulated time, us (default 0)", 0,
              kMaxTraceUs);
  args.option("trace-to-us", &trace_to_us,
              "trace: up to this simulated time, us (default: the end)", 1, kMaxTraceUs);
  args.option("trace-layers", &trace_layers,
              "trace: instructions of these decoder layers only: N or FIRST-LAST");
  args.option("trace-bandwidth-ns", &trace_window_ns,
              "trace: bandwidth counter resolution, ns (default 1000)", 1, 1000000000);
  bool roofline = false;
  std::string roofline_csv;
  args.flag("roofline", &roofline,
            "print the roofline: time, FLOPs, bytes and intensity per op class, layer and op, "
            "against the compute roof and the memory roof memtest sustains");
  args.option("roofline-csv", &roofline_csv, "write the per-op table as CSV to this file");
  double power_window_us = 10.0;
  args.option("power-window-us", &power_window_us,
              "the window the peak power is taken over, us (default 10)", 0.001, 1e6);
  if (!args.parse()) return 0;
  if (args.given("program")) {
    // A program is already compiled for its system and workload.
    for (const char* flag : {"model", "layer", "phase", "prompt-len", "batch", "kv-len", "layers",
                             "seed", "activation-dtype", "kv-dtype", "attention", "dtype"}) {
      if (args.given(flag)) args.fail(flag, "cannot be used with --program (it is compiled)");
    }
  } else {
    check_workload_options(args.given(), work);
  }
  for (const char* flag : {"trace-from-us", "trace-to-us", "trace-layers", "trace-bandwidth-ns"}) {
    if (args.given(flag) && trace_path.empty()) args.fail(flag, "applies only with --trace");
  }

  sim::TraceOptions trace;
  trace.path = trace_path;
  trace.from_ps = trace_from_us * 1000000;
  if (trace_to_us != 0) trace.to_ps = trace_to_us * 1000000;
  if (trace.to_ps <= trace.from_ps) {
    throw UserError(fmt::format("--trace-to-us: {} must be after --trace-from-us {}", trace_to_us,
                                trace_from_us));
  }
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
  // Every output can be written, before anything is compiled or simulated.
  if (!trace_path.empty()) sim::OutputFile::check(trace_path, "--trace");
  if (!roofline_csv.empty()) sim::OutputFile::check(roofline_csv, "--roofline-csv");
  if (!report_path.empty()) sim::OutputFile::check(report_path, "--report");

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
  if (!report_path.empty()) sim::write_json(report, report_path, "--report");
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(run, "simulate a workload on a system and report cycles, bytes, stalls",
                        run);

}  // namespace npusim::cli

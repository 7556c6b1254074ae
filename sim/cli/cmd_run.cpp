// npusim run: compile a workload (or take a program) and simulate it.
#include <fmt/format.h>

#include <iostream>

#include "sim/cli/options.h"
#include "sim/report_io.h"
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
  args.flag("quiet", &quiet, "print no table");
  if (!args.parse()) return 0;

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
  Report report = sim::simulate(input);
  *report.mutable_workload() = workload;
  if (!quiet) sim::print_table(report, std::cout);
  if (!report_path.empty()) sim::write_json(report, report_path);
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(run, "simulate a workload on a system and report cycles, bytes, stalls",
                        run);

}  // namespace npusim::cli

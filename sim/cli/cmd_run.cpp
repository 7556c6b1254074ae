// npusim run: compile a workload (or take a program) and simulate it.
#include <fmt/format.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "sim/cli/options.h"
#include "sim/cli/progress.h"
#include "sim/config.h"
#include "sim/functional_run.h"
#include "sim/memtest.h"
#include "sim/npy.h"
#include "sim/output_file.h"
#include "sim/report_io.h"
#include "sim/roofline.h"
#include "sim/simulator.h"

namespace npusim::cli {
namespace {

constexpr uint64_t kMaxTraceUs = 1000000000;  // 1000 s of simulated time

// "NAME=FILE" (or "FILE" when `bare` may stand for the only output).
std::pair<std::string, std::string> name_and_file(const Args& args, const char* flag,
                                                  const std::string& value, bool bare) {
  const size_t eq = value.find('=');
  if (eq == std::string::npos) {
    if (!bare) args.fail(flag, "'" + value + "' must be NAME=FILE.npy");
    return {"", value};
  }
  if (eq == 0 || eq + 1 == value.size()) args.fail(flag, "'" + value + "' must be NAME=FILE.npy");
  return {value.substr(0, eq), value.substr(eq + 1)};
}

// Prints how the functional outputs compare with the reference and with
// --expect; false when any is past its tolerance.
bool report_functional(const Args& args, const sim::FunctionalResult& f,
                       const std::vector<std::pair<std::string, std::string>>& expect, bool quiet) {
  bool ok = true;
  auto line = [&](const sim::TensorResult& t, const std::string& against,
                  const sim::Comparison& c) {
    const std::string text = fmt::format(
        "  {}: against {}: max abs error {:.3g}, {:.3g}% of its largest value ({} tolerance "
        "{:g}%){}",
        t.name, against, c.max_abs, 100 * c.max_rel, DType_Name(t.dtype), 100 * c.tolerance,
        c.within() ? "" : ": PAST THE TOLERANCE");
    if (!quiet || !c.within()) std::cout << text << "\n";
    ok = ok && c.within();
  };
  if (!quiet) std::cout << "functional        outputs computed with data\n";
  for (const sim::TensorResult& t : f.outputs) {
    if (!quiet)
      std::cout << fmt::format("  {} [{}] {}\n", t.name, fmt::join(t.shape, ", "),
                               DType_Name(t.dtype));
    if (!t.reference.empty())
      line(t, "the reference interpreter", sim::compare(t.values, t.reference, t.dtype));
  }
  if (!f.reference_error.empty() && !quiet) {
    std::cout << "  no reference: " << f.reference_error << "\n";
  }
  for (const auto& [name, file] : expect) {
    const sim::TensorResult* t = nullptr;
    for (const auto& o : f.outputs) {
      if (o.name == name || (name.empty() && f.outputs.size() == 1)) t = &o;
    }
    if (t == nullptr) {
      args.fail("expect",
                name.empty() ? fmt::format("{}: the graph has {} outputs: say which, NAME=FILE.npy",
                                           file, f.outputs.size())
                             : fmt::format("'{}' is not one of the graph's outputs", name));
    }
    const sim::NpyArray e = sim::load_npy(file);
    if (e.shape != t->shape) {
      throw UserError(fmt::format("{}: --expect {}: shape ({}) differs from the output's ({})",
                                  file, t->name, fmt::join(e.shape, ", "),
                                  fmt::join(t->shape, ", ")));
    }
    line(*t, file, sim::compare(t->values, e.values, t->dtype));
  }
  return ok;
}

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
  bool functional = false;
  std::vector<std::string> inputs, expects;
  std::string output_npy;
  args.flag("functional", &functional,
            "execute the program with data (seeded by --seed, or --input): outputs checked against "
            "the untiled graph; no timing changes");
  args.repeated("input", &inputs,
                "NAME=FILE.npy gives an input tensor's values (functional mode; an .onnx model's "
                "token ids and positions are fixed at import)");
  args.repeated("expect", &expects,
                "functional: [NAME=]FILE.npy, the values an output must have (exit 1 past the "
                "dtype's tolerance)");
  args.option("output-npy", &output_npy, "functional: write each output as DIR/NAME.npy");
  double power_window_us = 10.0;
  args.option("power-window-us", &power_window_us,
              "the window the peak power is taken over, us (default 10)", 0.001, 1e6);
  if (!args.parse()) return 0;
  if (args.given("program")) {
    // A program is already compiled for its system and workload.
    for (const char* flag : {"model", "layer", "phase", "prompt-len", "batch", "kv-len", "layers",
                             "seed", "activation-dtype", "kv-dtype", "attention", "dtype", "tp",
                             "pp", "micro-batches", "ep"}) {
      if (args.given(flag)) args.fail(flag, "cannot be used with --program (it is compiled)");
    }
  } else {
    check_workload_options(args.given(), work);
  }
  const bool onnx = sim::has_suffix(work.model, ".onnx");
  for (const char* flag : {"input", "expect", "output-npy"}) {
    if (args.given(flag) && !functional && !(onnx && std::string(flag) == "input")) {
      args.fail(flag, "applies only with --functional (or, --input, with an .onnx model)");
    }
  }
  if (functional && args.given("program")) {
    args.fail("functional", "needs a workload to compile (--model or --layer), not --program");
  }
  std::vector<std::pair<std::string, std::string>> input_files, expect_files;
  for (const std::string& v : inputs) input_files.push_back(name_and_file(args, "input", v, false));
  for (const std::string& v : expects)
    expect_files.push_back(name_and_file(args, "expect", v, true));
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
  if (!output_npy.empty()) {
    if (!std::filesystem::is_directory(output_npy)) {
      args.fail("output-npy", "'" + output_npy + "' is not a directory");
    }
    sim::OutputFile::check(output_npy + "/.npusim-probe.npy", "--output-npy");
  }
  // The arrays are read before anything runs: a bad one is an error now.
  sim::FunctionalOptions fopt;
  fopt.seed = work.seed;
  for (const auto& [name, file] : input_files) {
    sim::NpyArray a = sim::load_npy(file);
    if (onnx) {  // integer inputs are fixed at import
      work.onnx_inputs[name] = {a.shape, std::vector<double>(a.values.begin(), a.values.end()),
                                file};
    }
    fopt.inputs.push_back({name, file, std::move(a.shape), std::move(a.values)});
  }

  const System system = load_system(sys);
  sim::SimulationInput input;
  input.system = &system;
  input.system_where = sys.system;
  Program program;
  Workload workload;
  sim::Compiled compiled;
  if (program_path.empty()) {
    compiled = sim::compile_workload(system, sys.system, work);
    workload = compiled.workload;
  } else {
    load_program(program_path, &program);
    workload.set_model(program.name());
    input.program_where = program_path;
  }
  input.program = program_path.empty() ? &compiled.program : &program;
  input.tokens = workload.tokens();
  input.power_window_us = power_window_us;
  if (!trace_path.empty()) input.trace = &trace;
  if (roofline) input.memory_roof_gbps = sim::sustained_bandwidth_gbps(system);
  Report report;
  sim::FunctionalResult data;
  {
    Progress progress(!quiet);
    input.progress = [&progress](uint64_t done, uint64_t total, uint64_t ps) {
      progress.update(done, total, ps);
    };
    if (functional) {
      data = sim::run_functional(input, compiled, fopt);
      report = data.report;
    } else {
      report = sim::simulate(input);
    }
  }
  *report.mutable_workload() = workload;
  if (!quiet) sim::print_table(report, std::cout);
  if (!quiet && roofline) sim::print_roofline(report, std::cout);
  if (!roofline_csv.empty()) sim::write_ops_csv(report, roofline_csv);
  if (!report_path.empty()) sim::write_json(report, report_path, "--report");
  if (!functional) return 0;
  for (const sim::TensorResult& t : data.outputs) {
    if (output_npy.empty()) break;
    std::string file = t.name;
    std::replace(file.begin(), file.end(), '/', '_');
    sim::save_npy(output_npy + "/" + file + ".npy", "--output-npy", t.shape, t.values);
  }
  return report_functional(args, data, expect_files, quiet) ? 0 : 1;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(run, "simulate a workload on a system and report cycles, bytes, stalls",
                        run);

}  // namespace npusim::cli

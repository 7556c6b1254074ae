// npusim collective: one collective alone on a system of several chips, as
// nccl-tests measures one on GPUs: its time, algorithm and bus bandwidth,
// and the run table (each chip and network hop).
#include <fmt/format.h>

#include "common/dtype.h"
#include "common/error.h"
#include "compiler/collectives.h"
#include "sim/cli/options.h"
#include "sim/output_file.h"
#include "sim/report_io.h"
#include "sim/simulator.h"

#include <iostream>

namespace npusim::cli {
namespace {

int collective(const std::vector<std::string>& argv) {
  Args args("collective", argv);
  SystemOptions sys;
  std::string op = "all-reduce", report;
  uint64_t bytes = 8 << 20;
  uint64_t count = 1;
  add_system_options(args, sys);
  args.option("op", &op,
              "all-reduce (default), reduce-scatter or all-gather: a ring over the cores in index "
              "order; or all-to-all: pairwise exchange");
  args.option("bytes", &bytes, "the buffer's bytes on each chip, fp16 (default 8 MiB)", 2,
              uint64_t{1} << 40);
  args.option("count", &count, "collectives at once, each on its own buffer (default 1)", 1, 64);
  args.option("report", &report, "write the report as JSON to this file");
  if (!args.parse()) return 0;
  compiler::RingOp ring = compiler::RingOp::AllReduce;
  if (op == "reduce-scatter") {
    ring = compiler::RingOp::ReduceScatter;
  } else if (op == "all-gather") {
    ring = compiler::RingOp::AllGather;
  } else if (op != "all-reduce" && op != "all-to-all") {
    args.fail("op",
              fmt::format("'{}': choices: all-reduce, reduce-scatter, all-gather, all-to-all", op));
  }
  const bool a2a = op == "all-to-all";
  if (!report.empty()) sim::OutputFile::check(report, "--report");
  const System system = load_system(sys);
  // A ring over every core, chip by chip.
  const uint32_t chips = sim::chip_count(system) * sim::cores_per_chip(system);
  if (chips < 2) {
    throw UserError(fmt::format(
        "{}: topology.chips: {} chip(s) of {} core(s): a collective needs 2 or more cores",
        sys.system, sim::chip_count(system), sim::cores_per_chip(system)));
  }
  if (bytes % 2 != 0) args.fail("bytes", fmt::format("{} is not a whole number of fp16", bytes));
  const uint64_t elements = bytes / 2;
  if (elements < chips) args.fail("bytes", fmt::format("fewer than one fp16 per chip ({})", chips));
  // Each collective's buffer and its receive buffer (up to the whole buffer).
  const uint64_t spm = system.core().scratchpad().capacity_bytes();
  if (2 * bytes * count > spm) {
    args.fail("bytes", fmt::format("{} collective(s) of {} bytes and their receive buffers do not "
                                   "fit the {}-byte scratchpad (core.scratchpad.capacity_bytes)",
                                   count, bytes, spm));
  }
  const Program program =
      a2a ? compiler::all_to_all_program(chips, elements, FP16, static_cast<uint32_t>(count))
          : compiler::collective_program(ring, chips, elements, FP16, static_cast<uint32_t>(count));
  sim::SimulationInput in;
  in.system = &system;
  in.program = &program;
  in.system_where = sys.system;
  const Report r = sim::simulate(in);
  // nccl-tests' figures: the algorithm bandwidth (bytes / time) and the bus
  // bandwidth (what each link carried: x 2 (N - 1) / N for an all-reduce,
  // (N - 1) / N for either half and for an all-to-all).
  const double algbw = static_cast<double>(bytes) * count / r.seconds();
  const double busbw =
      algbw * (ring == compiler::RingOp::AllReduce && !a2a ? 2.0 : 1.0) * (chips - 1) / chips;
  fmt::print("collective          {} x {} of {} bytes, {} over {} cores\n", count, op, bytes,
             a2a ? "pairwise exchange" : "ring", chips);
  fmt::print("time                {:.3f} us\n", r.seconds() * 1e6);
  fmt::print("algorithm bandwidth {:.2f} GB/s\n", algbw / 1e9);
  fmt::print("bus bandwidth       {:.2f} GB/s\n\n", busbw / 1e9);
  sim::print_table(r, std::cout);
  if (!report.empty()) sim::write_json(r, report, "--report");
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(collective,
                        "one collective alone over the chips: time, algorithm and bus bandwidth",
                        collective);

}  // namespace npusim::cli

// npusim compile: build a workload and write its graph or program.
#include <fmt/format.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <iostream>

#include "common/error.h"
#include "compiler/compile.h"
#include "compiler/passes/placement.h"
#include "sim/cli/options.h"

namespace npusim::cli {
namespace {

int compile(const std::vector<std::string>& argv) {
  Args args("compile", argv);
  SystemOptions sys;
  sim::WorkloadOptions work;
  std::string emit = "isa", output;
  add_system_options(args, sys);
  add_workload_options(args, work);
  args.option("emit", &emit,
              "what to write: graph (as built), placed (with addresses), tiled (with the "
              "tiling chosen per node), isa (the program)");
  args.option("output", &output, "file to write (default: standard output)");
  if (!args.parse()) return 0;
  if (emit != "graph" && emit != "placed" && emit != "tiled" && emit != "isa") {
    throw UserError("npusim compile: --emit: '" + emit +
                    "' is not one of graph, placed, tiled, isa");
  }

  google::protobuf::Message* message = nullptr;
  Graph graph;
  sim::Compiled compiled;
  if (emit == "graph") {
    graph = sim::build_graph(work);
    message = &graph;
  } else {
    const System system = load_system(sys);
    compiled = sim::compile_workload(system, sys.system, work);
    if (emit == "placed") {
      message = &compiled.graph;
    } else if (emit == "tiled") {
      message = &compiled.tiled;
    } else {
      message = &compiled.program;
    }
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(*message, &text);
  if (output.empty()) {
    std::cout << text;
  } else {
    std::ofstream out(output);
    if (!out || !(out << text)) throw UserError(output + ": cannot write file");
  }
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(compile, "lower a workload and write its graph or program (textproto)",
                        compile);

}  // namespace npusim::cli

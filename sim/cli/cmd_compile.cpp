// npusim compile: build a workload and write its graph or program.
#include <fmt/format.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <iostream>

#include "common/error.h"
#include "compiler/compile.h"
#include "compiler/passes/placement.h"
#include "sim/cli/options.h"
#include "sim/config.h"
#include "sim/output_file.h"
#include "sim/report_io.h"

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
  args.option("output", &output,
              "file to write (default: standard output, text); its extension names the format: "
              ".pb or .binpb binary protobuf, .json JSON, .textproto, .pbtxt, .txtpb or .txt text");
  if (!args.parse()) return 0;
  if (emit != "graph" && emit != "placed" && emit != "tiled" && emit != "isa") {
    throw UserError("npusim compile: --emit: '" + emit +
                    "' is not one of graph, placed, tiled, isa");
  }
  check_workload_options(args.given(), work);
  for (const char* flag : {"system", "set"}) {
    if (emit == "graph" && args.given(flag)) {
      args.fail(flag, "is not used by --emit graph (the graph before placement)");
    }
  }
  enum class Format { kText, kBinary, kJson } format = Format::kText;
  if (!output.empty()) {
    if (sim::has_suffix(output, ".pb") || sim::has_suffix(output, ".binpb")) {
      format = Format::kBinary;
    } else if (sim::has_suffix(output, ".json")) {
      format = Format::kJson;
    } else if (!sim::has_suffix(output, ".textproto") && !sim::has_suffix(output, ".pbtxt") &&
               !sim::has_suffix(output, ".txtpb") && !sim::has_suffix(output, ".txt")) {
      throw UserError(output +
                      ": --output: the extension names no format (.pb, .binpb, .json, "
                      ".textproto, .pbtxt, .txtpb or .txt)");
    }
    sim::OutputFile::check(output, "--output");
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
  std::string bytes;
  if (format == Format::kBinary) {
    if (!message->SerializeToString(&bytes)) {
      throw UserError(output + ": --output: the message is too large for binary protobuf (2 GB)");
    }
  } else if (format == Format::kJson) {
    bytes = sim::to_json(*message);
  } else {
    google::protobuf::TextFormat::PrintToString(*message, &bytes);
  }
  if (output.empty()) {
    std::cout << bytes;
  } else {
    sim::write_output(output, "--output", bytes);
  }
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(compile, "lower a workload and write its graph or program (textproto)",
                        compile);

}  // namespace npusim::cli

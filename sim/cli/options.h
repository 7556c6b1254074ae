// Options shared by the commands that build a system and a workload.
#pragma once

#include <string>
#include <vector>

#include "sim/cli/command.h"
#include "sim/workload.h"

namespace npusim::cli {

struct SystemOptions {
  std::string system;
  std::vector<std::string> sets;
};

void add_system_options(Args& args, SystemOptions& options);
void add_workload_options(Args& args, sim::WorkloadOptions& options);

// Loads the system named by --system with the --set overrides applied.
[[nodiscard]] System load_system(const SystemOptions& options);

// Reads a Program from text (.textproto, .txtpb, .pbtxt) or binary protobuf.
void load_program(const std::string& path, Program* program);

}  // namespace npusim::cli

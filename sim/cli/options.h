// Options shared by the commands that build a system and a workload.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "sim/cli/command.h"
#include "sim/workload.h"

namespace npusim::cli {

struct SystemOptions {
  std::string system;
  std::vector<std::string> sets;
  std::vector<std::string> places;
};

// Ranges of the workload options.
constexpr uint64_t kMaxBatch = 65536;
constexpr uint64_t kMaxTokens = uint64_t{1} << 24;  // prompt and KV-cache positions
constexpr uint64_t kMaxLayers = 100000;

void add_system_options(Args& args, SystemOptions& options);
void add_workload_options(Args& args, sim::WorkloadOptions& options);

// Refuses workload options that the others make meaningless (they would be
// ignored): --layer with --model, --prompt-len in decode, --kv-len in
// prefill, --layers with a graph or ONNX model. `given` holds the options
// given (without "--").
void check_workload_options(const std::set<std::string>& given,
                            const sim::WorkloadOptions& options);

// Loads the system named by --system with the --set overrides applied.
[[nodiscard]] System load_system(const SystemOptions& options);

// Reads a Program from text (.textproto, .txtpb, .pbtxt) or binary protobuf.
void load_program(const std::string& path, Program* program);

}  // namespace npusim::cli

// npusim: the command line. Exit status 0 on success, 2 on bad input, 1 on an
// internal error (a bug in npusim).
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/version.h"
#include "sim/cli/command.h"

int main(int argc, char** argv) {
  // A file size limit (ulimit -f) fails the write, which the output's
  // commit reports, instead of killing the process halfway through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  using npusim::cli::CommandRegistry;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("npusim: a cycle-approximate NPU simulator for the memory wall\n\ncommands:\n");
    size_t width = 0;  // the longest name, and two spaces
    for (const auto* c : CommandRegistry::all()) width = std::max(width, c->name.size() + 2);
    for (const auto* c : CommandRegistry::all()) {
      fmt::print("  {:<{}}{}\n", c->name, width, c->summary);
    }
    fmt::print(
        "\nnpusim COMMAND --help shows a command's options; npusim --version the version.\n");
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    fmt::print("npusim {}\n", npusim::kVersion);
    return 0;
  }
  const auto* command = CommandRegistry::find(args[0]);
  if (command == nullptr) {
    fmt::print(stderr, "npusim: unknown command '{}' (npusim --help lists them)\n", args[0]);
    return 2;
  }
  try {
    return command->run({args.begin() + 1, args.end()});
  } catch (const npusim::UserError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error (a bug in npusim, please report): {}\n", e.what());
    return 1;
  }
}

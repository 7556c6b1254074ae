// The compiled half of `import npusim` (sim/python/npusim/__init__.py is the
// other): npusim's commands, run in-process with a command line's
// arguments. A UserError (bad input, exit status 2 on the command line)
// becomes npusim.Error with the same message.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "common/version.h"
#include "sim/cli/command.h"

namespace py = pybind11;

PYBIND11_MODULE(_npusim, m) {
  m.doc() = "npusim's commands, in-process (use the npusim package, not this module)";
  m.attr("__version__") = npusim::kVersion;
  py::register_exception<npusim::UserError>(m, "Error", PyExc_ValueError);
  m.def(
      "command",
      [](const std::string& name, const std::vector<std::string>& args) {
        const auto* command = npusim::cli::CommandRegistry::find(name);
        if (command == nullptr) throw py::value_error("npusim: unknown command '" + name + "'");
        // Simulations take seconds: other Python threads run meanwhile.
        const py::gil_scoped_release release;
        return command->run(args);
      },
      py::arg("name"), py::arg("args"),
      "Runs `npusim NAME ARGS...`; returns its exit status (0), or raises npusim.Error.");
}

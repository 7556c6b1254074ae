// System textproto: parse, --set overrides, defaults and validation
// (sim/config.h), then a tiny decoder layer compiled for the system and
// simulated on it unless its DMAs make many requests (milliseconds). Lines "# fuzz --set
// field.path=value" in the input are applied as --set overrides, so seeds stay valid textprotos.
#include <sstream>
#include <string>
#include <vector>

#include "sim/simulator.h"
#include "sim/workload.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  const std::string input = fuzz::text(data, size);
  std::vector<std::string> sets;
  std::istringstream lines(input);
  const std::string marker = "# fuzz --set ";
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(marker, 0) == 0) sets.push_back(line.substr(marker.size()));
  }
  fuzz::expect_user_errors_only([&] {
    const std::string where = "fuzz.textproto";
    System parsed;
    sim::parse_textproto(input, where, &parsed);
    const System system = sim::complete_system(parsed, where, sets);
    sim::WorkloadOptions work;
    work.layer = "tiny";
    work.kv_len = 16;
    const sim::Compiled compiled = sim::compile_workload(system, where, work);
    if (fuzz::dma_requests(compiled.program, system) > fuzz::kMaxSimulatedRequests) return;
    sim::SimulationInput in;
    in.system = &system;
    in.system_where = where;
    in.program = &compiled.program;
    (void)sim::simulate(in);
  });
  return 0;
}

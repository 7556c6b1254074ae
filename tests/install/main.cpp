// One simulation through the library: a tiny decoder layer on the installed
// ideal-memory preset. Prints the cycles, which must equal `npusim run`'s.
#include <cstdio>
#include <string>

#include "sim/config.h"
#include "sim/sweep.h"

int main() {
  const std::string hw = std::string(NPUSIM_DATA_DIR) + "/hw/npu-128x128-ideal.textproto";
  const npusim::System system = npusim::sim::load_system(hw, {});
  npusim::sim::WorkloadOptions workload;
  workload.layer = "tiny";
  workload.kv_len = 64;
  const npusim::Report report = npusim::sim::run_workload(system, hw, workload);
  std::printf("%llu\n", static_cast<unsigned long long>(report.cycles()));
  return 0;
}

// Programs (arch/isa.proto) given to `npusim run --program`: read as a
// textproto and, separately, as binary protobuf, checked
// (arch/program_check.h) and, unless their DMAs make many requests,
// simulated on the small system with a 1 MiB scratchpad (a deadlock is a
// UserError too).
#include <cstdint>

#include "arch/program_check.h"
#include "memory/registry.h"
#include "sim/simulator.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  static const System system =
      fuzz::small_system({"core.scratchpad.capacity_bytes=1048576", "core.scratchpad.banks=16"});
  for (const char* suffix : {".textproto", ".pb"}) {
    const fuzz::TempFile file(data, size, suffix);
    fuzz::expect_user_errors_only([&] {
      Program program;
      sim::load_message(file.path(), &program);
      // As simulate() checks it, but also for programs too big to simulate here.
      arch::CoreLimits limits;
      limits.spm_capacity_bytes = system.core().scratchpad().capacity_bytes();
      limits.memories[0].capacity_bytes =
          memory::MemoryRegistry::lookup(system.memory(), "system", "memory")
              .capacity_bytes(system.memory());
      (void)arch::check_program(program, limits, file.path());
      if (fuzz::dma_requests(program, system) > fuzz::kMaxSimulatedRequests) return;
      sim::SimulationInput in;
      in.system = &system;
      in.program = &program;
      in.program_where = file.path();
      (void)sim::simulate(in);
    });
  }
  return 0;
}

// npusim's own graphs (compiler/graph.proto) given as --model, through the
// command line's path (sim/workload.h): read as a textproto and, separately,
// as binary protobuf, then placed and lowered for the small system.
#include "sim/workload.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  static const System system = fuzz::small_system();
  for (const char* suffix : {".textproto", ".pb"}) {
    const fuzz::TempFile file(data, size, suffix);
    fuzz::expect_user_errors_only([&] {
      sim::WorkloadOptions work;
      work.model = file.path();
      (void)sim::compile_workload(system, "system", work);
    });
  }
  return 0;
}

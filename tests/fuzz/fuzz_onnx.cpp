// ONNX import (compiler/frontends/onnx_import.h), through the command line's
// path: imported, placed and lowered for the small system, prefilling an
// 8-token prompt.
#include "sim/workload.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  static const System system = fuzz::small_system();
  const fuzz::TempFile file(data, size, ".onnx");
  fuzz::expect_user_errors_only([&] {
    sim::WorkloadOptions work;
    work.model = file.path();
    work.phase = "prefill";
    work.prompt_len = 8;
    (void)sim::compile_workload(system, "system", work);
  });
  return 0;
}

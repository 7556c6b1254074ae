// Hugging Face config.json (compiler/frontends/hf_config.h), through the
// command line's path: one decoder layer of the model (--layers 1), built,
// placed and lowered for the small system, decoding one token over 16.
#include "sim/workload.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  static const System system = fuzz::small_system();
  const fuzz::TempFile file(data, size, ".json");
  fuzz::expect_user_errors_only([&] {
    sim::WorkloadOptions work;
    work.model = file.path();
    work.layers = 1;
    work.kv_len = 16;
    (void)sim::compile_workload(system, "system", work);
  });
  return 0;
}

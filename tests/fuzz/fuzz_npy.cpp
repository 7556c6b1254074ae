// NumPy .npy arrays (sim/npy.h), as --input and --expect read them: parsed,
// and when one loads, given as the input of a small MATMUL graph run in
// functional mode (its shape must be x's, [2, 16]).
#include "sim/functional_run.h"
#include "sim/npy.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  static const System system = fuzz::small_system();
  static const sim::Compiled compiled = [] {
    sim::WorkloadOptions work;
    work.model = std::string(NPUSIM_SOURCE_DIR) + "/tests/bad_inputs/files/npy/mm.pbtxt";
    return sim::compile_workload(system, "system", work);
  }();
  const fuzz::TempFile file(data, size, ".npy");
  fuzz::expect_user_errors_only([&] {
    sim::NpyArray a = sim::load_npy(file.path());
    sim::FunctionalOptions options;
    options.inputs.push_back({"x", file.path(), std::move(a.shape), std::move(a.values)});
    sim::SimulationInput in;
    in.system = &system;
    (void)sim::run_functional(in, compiled, options);
  });
  return 0;
}

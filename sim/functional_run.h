// Functional mode end to end: a compiled workload run with data beside the
// timing model, its outputs read back and compared with the reference
// interpreter's (compiler/reference) and with expected arrays.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compiler/reference/reference.h"
#include "sim/report.pb.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace npusim::sim {

struct FunctionalOptions {
  uint64_t seed = 0;  // the values of every input not given (functional_data.h)
  // Tensor name -> its values (their shape must be the tensor's), and the
  // file they came from, for errors.
  struct Input {
    std::string name, file;
    std::vector<uint64_t> shape;
    std::vector<float> values;
  };
  std::vector<Input> inputs;
  bool reference = true;  // also interpret the graph untiled
};

struct TensorResult {
  std::string name;
  std::vector<uint64_t> shape;
  DType dtype = DTYPE_UNSPECIFIED;
  std::vector<float> values;
  std::vector<float> reference;  // empty without one
};

struct FunctionalResult {
  Report report;
  // The graph's outputs: tensors a node produces and none reads, and the
  // KV caches KV_APPEND updates (what the next decode step reads).
  std::vector<TensorResult> outputs;
  std::string reference_error;  // why there is no reference (an op it does not run)
};

// Simulates `compiled` (input.system and the rest as for simulate();
// input.program and input.memory_image are set here) with data.
[[nodiscard]] FunctionalResult run_functional(SimulationInput input, const Compiled& compiled,
                                              const FunctionalOptions& options);

// How far `actual` is from `expected`: the largest absolute difference, and
// that relative to the largest |expected| (so that values near zero do not
// dominate), against the tolerance of `dtype`: the rounding of a few
// operations in it (fp32 1e-4, fp16 1e-2, bf16 5e-2, else 1e-2).
struct Comparison {
  double max_abs = 0;
  double max_rel = 0;
  double tolerance = 0;
  [[nodiscard]] bool within() const { return max_rel <= tolerance; }
};
[[nodiscard]] Comparison compare(const std::vector<float>& actual,
                                 const std::vector<float>& expected, DType dtype);

}  // namespace npusim::sim

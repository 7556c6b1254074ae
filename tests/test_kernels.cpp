// Kernel-by-kernel execution (ExecutionConfig), the GPU-like presets'
// mechanism: ops do not overlap, and each starts a launch gap after the
// one before has ended everywhere.
#include <gtest/gtest.h>

#include <set>

#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

Report decode(const System& s, const std::string& model, uint64_t layers,
              const std::string& dtype = "fp16", uint64_t kv_len = 0) {
  sim::WorkloadOptions w;
  w.model = test::source_path(model);
  w.layers = layers;
  w.dtype = dtype;
  if (kv_len > 0) w.kv_len = kv_len;
  return test::run_workload(s, w);
}

TEST(KernelByKernel, EachKernelAfterTheFirstWaitsExactlyTheLaunchGap) {
  // On ideal memory (no refresh to shift) a kernel's own time does not
  // depend on when it starts, so the gap adds exactly gap x boundaries.
  const std::vector<std::string> kernels = {"core.execution.kernel_by_kernel=true"};
  std::vector<std::string> gapped = kernels;
  gapped.push_back("core.execution.launch_gap_ns=500");
  const Report a = decode(test::preset(kernels), "examples/models/llama2-7b.json", 1);
  const Report b = decode(test::preset(gapped), "examples/models/llama2-7b.json", 1);
  const Report overlapped = decode(test::preset(), "examples/models/llama2-7b.json", 1);
  const auto boundaries = static_cast<double>(a.ops_size() - 1);
  EXPECT_NEAR(b.seconds() - a.seconds(), 500e-9 * boundaries, 1e-11);
  // Without overlap across ops the token takes longer, and the waits are
  // named.
  EXPECT_GT(a.seconds(), overlapped.seconds());
  bool named = false;
  for (const StallCause& c : a.stalls()) named |= c.cause() == "kernel boundary";
  EXPECT_TRUE(named);
  for (const StallCause& c : overlapped.stalls()) EXPECT_NE(c.cause(), "kernel boundary");
}

TEST(KernelByKernel, OpsDoNotOverlap) {
  const Report r = decode(test::preset({"core.execution.kernel_by_kernel=true"}),
                          "examples/models/llama2-7b.json", 1);
  double active = 0;
  for (const OpStats& o : r.ops()) active += o.active_seconds();
  // Each op is active from its first issue to its last completion, and the
  // next one starts after: their spans add up to at most the run.
  EXPECT_LE(active, r.seconds() * (1 + 1e-9));
}

TEST(KernelByKernel, TensorCoreShapedComputeTakesInInt8WeightsFasterThanTheMemoryBringsThem) {
  // Ten 128x128 arrays take 10 x 128 int8 weights a cycle at 0.952 GHz
  // (1.2 TB/s): Llama-2-70B int8 waits for them. 108 arrays of 32x32 at
  // 1.41 GHz take 108 x 32 (4.9 TB/s): the memory path is the wall, the
  // bytes the SMs keep in flight (about 1.45 TB/s here).
  const System a100 = test::hw("a100-like");
  const Report r = decode(a100, "examples/models/llama2-70b.json", 2, "int8");
  EXPECT_EQ(r.limiter().resource(), "DMA bytes in flight");
  const System big_arrays = test::hw("a100-like", {"core.array.rows=128", "core.array.cols=128",
                                                   "core.array.count=10", "core_clock_ghz=0.952"});
  const Report b = decode(big_arrays, "examples/models/llama2-70b.json", 2, "int8");
  EXPECT_EQ(b.limiter().resource(), "array operand load");
  EXPECT_GT(b.seconds(), 1.15 * r.seconds());
}

// A decode token of `model`: every layer is the same, so a token is one
// layer plus (layers - 1) times what a second adds (a100-like, Llama-2-7B:
// 9.70 ms against 9.67 ms for all 32 layers; 70B: 48.6 ms).
double token_ms(const std::string& preset, const std::string& model, const std::string& dtype,
                uint64_t layers) {
  const System s = test::hw(preset);
  const Report one = decode(s, model, 1, dtype, 128);
  const Report two = decode(s, model, 2, dtype, 128);
  EXPECT_EQ(two.limiter().resource(), "DMA bytes in flight") << preset;
  return 1e3 * (one.seconds() + static_cast<double>(layers - 1) * (two.seconds() - one.seconds()));
}

TEST(GpuPresets, A100LikeDecodesWithinTenPercentOfTheMeasuredA100) {
  // hardware.md: an A100-80GB decodes Llama-2-7B bf16 in 9.5 ms a token and
  // Llama-2-70B int8 in 52 ms (gpt-fast, batch 1, short prompt). a100-like's
  // bytes in flight were chosen for the first; the second checks them.
  const double llama7b = token_ms("a100-like", "examples/models/llama2-7b.json", "bf16", 32);
  EXPECT_NEAR(llama7b / 9.5, 1.0, 0.10) << llama7b << " ms";
  const double llama70b = token_ms("a100-like", "examples/models/llama2-70b.json", "int8", 80);
  EXPECT_NEAR(llama70b / 52.0, 1.0, 0.10) << llama70b << " ms";
}

TEST(GpuPresets, H100LikeKeepsItsCalibrationToTwoThirdsOfA100LikesTime) {
  // NVIDIA's NeMo tables: Llama-2-7B at batch 1 on an H100 takes 0.657 of
  // an A100's time, prompt included. h100-like's bytes in flight were
  // chosen to give that ratio (h100-like.textproto): this guards the
  // calibration against model changes; it does not validate the preset (no
  // measured H100 figure does yet). The A100's bytes per SM would give 0.78.
  const double ratio = token_ms("h100-like", "examples/models/llama2-7b.json", "bf16", 32) /
                       token_ms("a100-like", "examples/models/llama2-7b.json", "bf16", 32);
  EXPECT_NEAR(ratio / 0.657, 1.0, 0.05) << ratio;
}

}  // namespace
}  // namespace npusim

// Ideal memory: a transfer takes latency + bytes / bandwidth, and the
// bandwidth is shared.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace npusim {
namespace {

using test::ProgramMaker;

// DMA loads of `bytes` in all (1 MiB each at most), nothing else.
Report load_only(uint64_t bytes, const std::vector<std::string>& sets) {
  ProgramMaker p;
  const uint32_t t = p.tensor(WEIGHT, bytes);
  for (uint64_t off = 0; off < bytes; off += 1 << 20) {
    p.load(t, std::min<uint64_t>(1 << 20, bytes - off), off);
  }
  return test::run(test::preset(sets), p.program());
}

TEST(IdealMemory, TransferTakesLatencyPlusBytesOverBandwidth) {
  // 1 MiB at 1000 GB/s after 100 ns: 100 ns + 1048.576 ns, with enough
  // requests in flight (64 x 2 KiB covers 100 ns x 1 TB/s).
  const Report r = load_only(1 << 20, {"core.dma.max_request_bytes=2048"});
  EXPECT_NEAR(r.seconds(), 100e-9 + (1 << 20) / 1000e9, 1e-12);
  EXPECT_EQ(r.traffic().read().weight(), 1u << 20);
  EXPECT_EQ(r.traffic().transactions(), (1u << 20) / 2048);
}

TEST(IdealMemory, OneRequestInFlightPaysLatencyPerRequest) {
  // With one request outstanding each 2 KiB pays the 100 ns latency.
  const Report r =
      load_only(16 * 2048, {"core.dma.outstanding=1", "core.dma.max_request_bytes=2048"});
  EXPECT_NEAR(r.seconds(), 16 * (100e-9 + 2048 / 1000e9), 1e-12);
}

TEST(IdealMemory, AchievedBandwidthApproachesPeakForLongStreams) {
  const Report r = load_only(64 << 20, {"memory.ideal.bandwidth_gbps=500"});
  EXPECT_NEAR(r.traffic().achieved_bandwidth_gbps(), 500.0, 500.0 * 0.002);
  EXPECT_DOUBLE_EQ(r.traffic().peak_bandwidth_gbps(), 500.0);
}

}  // namespace
}  // namespace npusim

namespace npusim {
namespace {

TEST(ScratchpadPort, NarrowScratchpadLimitsTheDma) {
  // 8 banks x 64 B per 1 ns cycle = 512 GB/s, below the memory's 1000 GB/s.
  const Report r = load_only(8 << 20, {"core.scratchpad.banks=8"});
  EXPECT_NEAR(r.traffic().achieved_bandwidth_gbps(), 512.0, 512.0 * 0.01);
}

}  // namespace
}  // namespace npusim

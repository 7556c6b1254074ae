// Systolic tile cycles against the published SCALE-Sim table
// (SCALE-Sim v2, Samajdar et al.: its code and paper's published values) and the closed forms.
#include <gtest/gtest.h>

#include "arch/dataflow.h"

namespace npusim::arch {
namespace {

uint64_t cycles(const char* df, uint64_t rows, uint64_t cols, uint64_t m, uint64_t n, uint64_t k) {
  const DataflowInfo* info = DataflowRegistry::find(df);
  EXPECT_NE(info, nullptr) << df;
  return gemm_timing(*info, {rows, cols}, {m, k, n}).cycles;
}

struct Row {
  uint64_t array, m, n, k, ws, os, is;
};

TEST(Dataflow, MatchesPublishedScaleSimTable) {
  const Row table[] = {
      {32, 4, 4, 4, 97, 65, 97},
      {32, 128, 128, 128, 3551, 3039, 3551},
      {128, 128, 128, 128, 509, 381, 509},
      {128, 1, 1024, 1024, 24511, 10223, 11247},
  };
  for (const Row& r : table) {
    SCOPED_TRACE(::testing::Message()
                 << r.array << "x" << r.array << " M=" << r.m << " N=" << r.n << " K=" << r.k);
    EXPECT_EQ(cycles("ws", r.array, r.array, r.m, r.n, r.k), r.ws);
    EXPECT_EQ(cycles("os", r.array, r.array, r.m, r.n, r.k), r.os);
    EXPECT_EQ(cycles("is", r.array, r.array, r.m, r.n, r.k), r.is);
  }
}

TEST(Dataflow, ClosedFormsOnRectangularArrays) {
  // OS on 16x8, M=40 N=20 K=7: folds ceil(40/16)*ceil(20/8)=9, (16+8+7-2)=29 each.
  EXPECT_EQ(cycles("os", 16, 8, 40, 20, 7), 9 * 29 - 1);
  // WS on 16x8: Sr=K=7 (1 fold), Sc=N=20 (3 folds), T=M=40: 3 * (32+8+40-2) - 1.
  EXPECT_EQ(cycles("ws", 16, 8, 40, 20, 7), 3 * 78 - 1);
  // IS on 16x8: Sr=K=7, Sc=M=40 (5 folds), T=N=20: 5 * (32+8+20-2) - 1.
  EXPECT_EQ(cycles("is", 16, 8, 40, 20, 7), 5 * 58 - 1);
  // The paper's single-fold form 2*Sr + Sc + T - 2 when the operand fills the array.
  EXPECT_EQ(cycles("ws", 64, 32, 100, 32, 64), 2 * 64 + 32 + 100 - 2 - 1);
}

TEST(Dataflow, DoubleBufferedArrayPipelinesItsFolds) {
  const DataflowInfo* ws = DataflowRegistry::find("ws");
  const DataflowInfo* os = DataflowRegistry::find("os");
  ASSERT_NE(ws, nullptr);
  ASSERT_NE(os, nullptr);
  const ArrayShape serial{128, 128}, shadow{128, 128, true};
  // WS, M=512 K=4096 N=128: 32 folds. Serial: each preloads, fills, streams
  // 512 rows and drains. Shadowed: one preload, fill and drain; a fold starts
  // every 512 cycles behind the first.
  const GemmShape g{512, 4096, 128};
  EXPECT_EQ(gemm_timing(*ws, serial, g).cycles, 32u * (128 + 128 + 128 + 512 - 2) - 1);
  EXPECT_EQ(gemm_timing(*ws, shadow, g).cycles, (128u + 128 + 128 + 512 - 2) + 31u * 512 - 1);
  // Fewer rows than the array (T=64 < 128): the next fold's 128-cycle shadow
  // load sets the pace.
  EXPECT_EQ(gemm_timing(*ws, shadow, {64, 1024, 128}).cycles,
            (128u + 128 + 128 + 64 - 2) + 7u * 128 - 1);
  // A single fold still waits for its preload: the same as serial.
  EXPECT_EQ(gemm_timing(*ws, shadow, {128, 128, 128}).cycles, 509u);
  // Output stationary preloads nothing: unchanged.
  EXPECT_EQ(gemm_timing(*os, shadow, g).cycles, gemm_timing(*os, serial, g).cycles);
}

// A wider preload path (ArrayShape::preload_rows): a fold's stationary
// operand shifts in rows / preload_rows cycles. A GEMV (M = 1, T = 1) on a
// double-buffered 320x320 WS array then starts a fold every 40 cycles at
// 8 rows a cycle instead of every 320: it takes in 2,560 weights a cycle,
// not 320.
TEST(Dataflow, AWiderPreloadPathTakesInWeightsFaster) {
  const DataflowInfo* ws = DataflowRegistry::find("ws");
  ASSERT_NE(ws, nullptr);
  ArrayShape one{320, 320, true}, eight{320, 320, true};
  eight.preload_rows = 8;
  EXPECT_EQ(eight.preload_cycles(), 40u);
  const GemmShape gemv{1, 3200, 3200};  // 100 folds
  EXPECT_EQ(gemm_timing(*ws, one, gemv).cycles, (320u + 320 + 320 + 1 - 2) + 99u * 320 - 1);
  EXPECT_EQ(gemm_timing(*ws, eight, gemv).cycles, (40u + 320 + 320 + 1 - 2) + 99u * 40 - 1);
  EXPECT_EQ(gemm_timing(*ws, eight, gemv).load_cycles, 40u + 99u * 39);
  // Serial folds each wait for their (shorter) preload.
  ArrayShape serial{320, 320, false};
  serial.preload_rows = 8;
  EXPECT_EQ(gemm_timing(*ws, serial, gemv).cycles, 100u * (40 + 320 + 320 + 1 - 2) - 1);
  // Rows that do not divide: the last cycle shifts in fewer.
  serial.preload_rows = 3;
  EXPECT_EQ(serial.preload_cycles(), 107u);
}

TEST(Dataflow, EfficiencyAndUtilisation) {
  const DataflowInfo* ws = DataflowRegistry::find("ws");
  ASSERT_NE(ws, nullptr);
  const GemmTiming t = gemm_timing(*ws, {128, 128}, {128, 128, 128});
  EXPECT_EQ(t.folds, 1u);
  EXPECT_EQ(t.macs, 128u * 128u * 128u);
  EXPECT_DOUBLE_EQ(t.mapping_efficiency, 1.0);
  EXPECT_NEAR(t.utilization, 128.0 * 128 * 128 / (128.0 * 128 * 509), 1e-12);
  // Half the columns idle: mapping efficiency 50%.
  EXPECT_DOUBLE_EQ(gemm_timing(*ws, {128, 128}, {128, 128, 64}).mapping_efficiency, 0.5);
}

}  // namespace
}  // namespace npusim::arch

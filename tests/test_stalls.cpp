// Every cycle of every unit is busy, stalled for a named cause, or idle, and
// each stall is blamed on what it waited for.
#include <gtest/gtest.h>

#include <functional>

#include "arch/matrix_unit.h"
#include "common/error.h"
#include "test_util.h"

namespace npusim {
namespace {

using test::ProgramMaker;

const UnitStats& unit(const Report& r, const std::string& name) {
  for (const auto& u : r.units()) {
    if (u.unit() == name) return u;
  }
  throw std::runtime_error("no unit " + name);
}

void expect_accounted(const Report& r) {
  for (const auto& u : r.units()) {
    EXPECT_EQ(u.busy_cycles() + u.stall_memory_cycles() + u.stall_dependency_cycles() +
                  u.stall_spm_space_cycles() + u.idle_cycles(),
              r.cycles())
        << u.unit();
  }
}

// An m x 128 x 128 fp16 tile reading B at `b` and writing its fp32 output
// at `out` (A at 0 unless set).
MatrixOp& tile(ProgramMaker& p, uint32_t m, uint64_t b, uint64_t out) {
  MatrixOp& op = *p.gemm(m, 128, 128).mutable_matrix();
  op.set_spm_b(b);
  op.set_spm_out(out);
  return op;
}

// 1 MiB at 1 TB/s after 100 ns: 1148.576 ns; a 128^3 WS tile: 509 cycles.
constexpr uint64_t kLoadCycles = 1149;
constexpr uint64_t kTileCycles = 509;

TEST(Stalls, ComputeWaitingForALoadIsAMemoryStall) {
  ProgramMaker p;
  const uint32_t ready = p.sem(DMA, DATA_READY);
  ProgramMaker::signal(p.load(p.tensor(WEIGHT, 1 << 20), 1 << 20), ready);
  ProgramMaker::wait(p.gemm(128, 128, 128), ready);
  const Report r = test::run(test::preset(), p.program());
  EXPECT_EQ(r.cycles(), kLoadCycles + kTileCycles);
  EXPECT_EQ(unit(r, "matrix").stall_memory_cycles(), kLoadCycles);
  EXPECT_EQ(unit(r, "matrix").busy_cycles(), kTileCycles);
  EXPECT_EQ(unit(r, "dma").busy_cycles(), kLoadCycles);
  EXPECT_EQ(unit(r, "dma").idle_cycles(), kTileCycles);
  expect_accounted(r);
}

TEST(MatrixSpan, OverlapsWhenALineOfEachSharesAByte) {
  using Span = arch::MatrixUnit::Span;
  // Columns of one matrix: lines 1 KiB apart, 512 B each.
  const Span left{0, 8, 512, 1024};
  EXPECT_TRUE(left.overlaps(left));
  EXPECT_FALSE(left.overlaps({512, 8, 512, 1024}));             // the other half of each line
  EXPECT_TRUE(left.overlaps({511, 8, 512, 1024}));              // one byte into each line
  EXPECT_FALSE(Span({512, 8, 512, 1024}).overlaps(left));       // this one first
  EXPECT_TRUE(Span({4096 - 1, 8, 2, 1024}).overlaps(left));     // a line straddling two
  EXPECT_FALSE(left.overlaps({7 * 1024 + 512, 4, 512, 1024}));  // after the last line
  EXPECT_TRUE(left.overlaps({7 * 1024, 4, 16, 1024}));          // on the last line
  // Ranges that only touch, and empty spans, do not overlap.
  EXPECT_FALSE(Span({0, 1, 64, 64}).overlaps({64, 1, 64, 64}));
  EXPECT_FALSE(left.overlaps({}));
  EXPECT_FALSE(Span{}.overlaps(left));
  // Other strides, or lines longer than their stride: overlapping ranges
  // count as overlapping (conservative).
  EXPECT_TRUE(left.overlaps({512, 4, 512, 2048}));
  EXPECT_TRUE(left.overlaps({512, 2, 2048, 1024}));
}

TEST(Stalls, ATileReadingWhatAnotherStillComputesFollowsItOnItsArray) {
  // Two 128^3 WS tiles on 8 arrays: independent, they run at once; when the
  // second sums into the first's output (a K loop) or writes over it, it
  // follows on the first one's array, their fill and drain overlapping as
  // back to back (128 + 253 cycles); when it reads that output as an
  // operand, it starts once the output has drained (its preload still hides
  // under the first: 128 cycles). Column tiles of one output (lines 1 KiB
  // apart, 512 B each) interleave without touching.
  constexpr uint64_t kOut = 1 << 20;
  const auto cycles = [](const std::function<void(MatrixOp&)>& second) {
    ProgramMaker p;
    tile(p, 128, 32768, kOut);
    second(tile(p, 128, 32768, 2 * kOut));
    return test::run(test::preset(), p.program()).cycles();
  };
  EXPECT_EQ(cycles([](MatrixOp&) {}), kTileCycles);
  EXPECT_EQ(cycles([](MatrixOp& op) {
              op.set_spm_out(kOut);
              op.set_accumulate(true);
            }),
            2 * kTileCycles - 128 - 253);
  EXPECT_EQ(cycles([](MatrixOp& op) { op.set_spm_a(kOut); }), 2 * kTileCycles - 128);
  EXPECT_EQ(cycles([](MatrixOp& op) { op.set_spm_b(kOut); }), 2 * kTileCycles - 128);
  EXPECT_EQ(cycles([](MatrixOp& op) { op.set_spm_out(kOut + 8); }), 2 * kTileCycles - 128 - 253);
  // Side by side in a 256-column fp32 output: no line of one in the other.
  ProgramMaker p;
  for (const uint64_t column : {0, 128}) {
    MatrixOp& op = *p.gemm(128, 128, 128).mutable_matrix();
    op.set_spm_b(32768);
    op.set_spm_out(kOut + 4 * column);
    op.set_ldo(256);
  }
  EXPECT_EQ(test::run(test::preset(), p.program()).cycles(), kTileCycles);
}

TEST(Stalls, AnOutputDrainingUnderTheNextTileIsReadOnceItHasDrained) {
  // On 8 arrays: a 128^3 tile, then one summing into the first half of its
  // output (64 rows, under its drain on its array), then one reading the
  // other half as its A operand: that half is written only when the first
  // tile ends (509 cycles), so the third tile, on an array of its own,
  // starts then.
  constexpr uint64_t kOut = 1 << 20;
  const auto alone = [] {
    ProgramMaker p;
    tile(p, 64, 0, kOut);
    return test::run(test::preset(), p.program()).cycles();
  }();
  ProgramMaker p;
  tile(p, 128, 32768, kOut);
  tile(p, 64, 65536, kOut).set_accumulate(true);            // rows 0-63, 512 B each
  tile(p, 64, 98304, 2 * kOut).set_spm_a(kOut + 64 * 512);  // reads rows 64-95 of the first
  EXPECT_EQ(test::run(test::preset(), p.program()).cycles(), kTileCycles + alone);
}

TEST(Stalls, ADoubleBufferedArrayPreloadsTheNextTileUnderThisOne) {
  // Two independent 128^3 WS tiles on one array: the second one's weights
  // shift in during the first one's fold, saving its 128-cycle preload, and
  // its first fold follows the first tile's fold as folds follow each other
  // within a tile, so the first one's drain and its fill overlap:
  // C + min(T, R) - 3 = 253 cycles.
  for (const bool shadow : {false, true}) {
    ProgramMaker p;
    for (const uint64_t out : {1 << 20, 2 << 20}) tile(p, 128, 32768, out);
    const Report r =
        test::run(test::preset({"core.array.count=1", std::string("core.array.double_buffered=") +
                                                          (shadow ? "true" : "false")}),
                  p.program());
    EXPECT_EQ(r.cycles(), 2 * kTileCycles - (shadow ? 128 + 253 : 0)) << shadow;
    EXPECT_EQ(unit(r, "matrix").busy_cycles(), r.cycles());
  }
  // A tile whose weights arrive only when the array frees cannot preload early.
  ProgramMaker p;
  const uint32_t ready = p.sem(DMA, DATA_READY);
  ProgramMaker::signal(p.load(p.tensor(WEIGHT, 1 << 20), 1 << 20), ready);
  p.gemm(128, 128, 128);
  ProgramMaker::wait(p.gemm(128, 128, 128), ready);
  const Report r = test::run(
      test::preset({"core.array.count=1", "core.array.double_buffered=true"}), p.program());
  EXPECT_EQ(r.cycles(), kLoadCycles + kTileCycles);
}

TEST(Stalls, WaitingOnAUnitThatWaitsOnMemoryIsAMemoryStall) {
  ProgramMaker p;
  const uint32_t loaded = p.sem(DMA, DATA_READY);
  const uint32_t computed = p.sem(MATRIX, DATA_READY);
  ProgramMaker::signal(p.load(p.tensor(WEIGHT, 1 << 20), 1 << 20), loaded);
  Instruction& g = p.gemm(128, 128, 128);
  ProgramMaker::wait(g, loaded);
  ProgramMaker::signal(g, computed);
  ProgramMaker::wait(p.vec(ADD, 128), computed);
  const Report r = test::run(test::preset(), p.program());
  // The vector unit waited through the load (memory) and the tile (compute).
  EXPECT_EQ(unit(r, "vector").stall_memory_cycles(), kLoadCycles);
  EXPECT_EQ(unit(r, "vector").stall_dependency_cycles(), kTileCycles);
  expect_accounted(r);
}

TEST(Stalls, WaitingForABufferToBeFreedIsAScratchpadStall) {
  ProgramMaker p;
  const uint32_t loaded = p.sem(DMA, DATA_READY);
  const uint32_t freed = p.sem(MATRIX, BUFFER_FREE);
  const uint32_t tensor = p.tensor(WEIGHT, 2048);
  ProgramMaker::signal(p.load(tensor, 2048), loaded);
  Instruction& g = p.gemm(128, 128, 128);
  ProgramMaker::wait(g, loaded);
  ProgramMaker::signal(g, freed);
  ProgramMaker::wait(p.load(tensor, 2048), freed);  // reuses the buffer
  const Report r = test::run(test::preset(), p.program());
  EXPECT_EQ(unit(r, "dma").stall_spm_space_cycles(), kTileCycles);
  EXPECT_EQ(r.stall_spm_space_cycles(), kTileCycles);
  expect_accounted(r);
}

TEST(Stalls, AProgramThatCannotFinishIsReportedAsADeadlock) {
  ProgramMaker p;
  const uint32_t never = p.sem(DMA, DATA_READY);
  ProgramMaker::wait(p.gemm(16, 16, 16), never);
  try {
    (void)test::run(test::preset(), p.program());
    FAIL() << "expected a deadlock error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("deadlocked"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("MATRIX: instruction 0 waits for semaphore 0"),
              std::string::npos)
        << e.what();
  }
}

TEST(Stalls, ProgramsAreCheckedBeforeTheyRun) {
  ProgramMaker p;
  const uint32_t s = p.sem(MATRIX, DATA_READY);
  ProgramMaker::signal(p.load(p.tensor(WEIGHT, 64), 64), s);  // DMA signals MATRIX's semaphore
  try {
    (void)test::run(test::preset(), p.program());
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("cores[0].dma[0].signal.sem: semaphore 's0' is "
                                         "produced by queue MATRIX"),
              std::string::npos)
        << e.what();
  }

  ProgramMaker big;
  big.load(big.tensor(WEIGHT, 64), 64);
  big.load(big.tensor(WEIGHT, 64 << 20), 64 << 20);  // larger than the 16 MiB scratchpad
  try {
    (void)test::run(test::preset(), big.program());
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("cores[0].dma[1].dma.spm_addr: range [0, 67108864) "
                                         "exceeds the scratchpad capacity 16777216 "
                                         "(core.scratchpad.capacity_bytes)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace npusim

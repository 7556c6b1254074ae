// Sweeps: axes, the grid's order, and a CSV whose varied columns are not
// repeated.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sim/program_cache.h"
#include "sim/sweep.h"
#include "sim/sweep_store.h"
#include "test_util.h"

namespace npusim::sim {
namespace {

TEST(Sweep, TheGridRunsEveryCombinationFirstAxisSlowest) {
  const std::vector<SweepAxis> axes = {parse_sweep_axis("batch=1,4"),
                                       parse_sweep_axis("core.array.count=1,2,8")};
  const auto grid = sweep_grid(axes);
  ASSERT_EQ(grid.size(), 6u);
  EXPECT_EQ(grid[0], (std::vector<std::string>{"1", "1"}));
  EXPECT_EQ(grid[2], (std::vector<std::string>{"1", "8"}));
  EXPECT_EQ(grid[3], (std::vector<std::string>{"4", "1"}));
  EXPECT_NE(test::error_of([] { (void)parse_sweep_axis("batch=1,,4"); }).find("an empty value"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { (void)parse_sweep_axis("=1"); }).find("expected field=v1,v2"),
            std::string::npos);
}

TEST(Sweep, TheCsvHasOneRowPerPointAndEachVariedColumnOnce) {
  const System system = test::preset();
  WorkloadOptions w;
  w.layer = "tiny";
  std::vector<Report> reports;
  for (uint64_t kv : {64, 128}) {
    w.kv_len = kv;
    reports.push_back(run_workload(system, "test", w));
  }
  EXPECT_GT(reports[1].cycles(), reports[0].cycles());  // more KV cache to read
  const SweepTable table({parse_sweep_axis("kv-len=64,128")}, system);
  std::istringstream lines(table.header() + "\n" + table.row({"64"}, reports[0]) + "\n" +
                           table.row({"128"}, reports[1]) + "\n");
  std::string header, row, last;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("kv_len,system,model,phase,batch,layers,tokens,cycles,", 0), 0u) << header;
  EXPECT_EQ(header.find(",kv_len"), std::string::npos);
  size_t rows = 0;
  while (std::getline(lines, row)) {
    EXPECT_EQ(row.rfind(rows == 0 ? "64,npu-128x128-ideal,tiny,decode,1," : "128,", 0), 0u) << row;
    ++rows;
    last = row;
  }
  EXPECT_EQ(rows, 2u);
  EXPECT_EQ(header.substr(header.size() - 6), ",error");
  EXPECT_EQ(last.back(), ',');  // no error
}

TEST(Sweep, AFailedPointKeepsItsValuesAndItsErrorWithBlankFigures) {
  const SweepTable table({parse_sweep_axis("batch=1,2")}, test::preset());
  const std::string header = table.header();
  const std::string row = table.failed_row({"2"}, "the point batch=2: too big, \"sadly\"\nreally");
  EXPECT_EQ(std::count(row.begin(), row.end(), ','),
            std::count(header.begin(), header.end(), ',') + 1);  // + the comma in the quote
  EXPECT_EQ(row.rfind("2,,,", 0), 0u) << row;
  EXPECT_NE(row.find(",\"the point batch=2: too big, \"\"sadly\"\" really\""), std::string::npos)
      << row;
}

// A sweep's results live in a journal (one line per finished point) and a
// CSV rewritten from it; a second store over the same files resumes.
TEST(Sweep, TheStoreResumesFinishedPointsAndRefusesAnotherSweep) {
  const test::TempDir dir;
  SweepStore::Options o;
  o.csv = dir.path() + "/s.csv";
  o.definition = "--vary batch=1,2,3\n";
  o.header = "batch,x,error";
  o.names = {"batch=1", "batch=2", "batch=3"};
  {
    SweepStore store(o);
    EXPECT_EQ(store.finished_count(), 0u);
    store.record(2, nullptr, "3,30,", "thirty");
    store.record(0, nullptr, "1,10,", "ten");
    store.flush();
  }
  EXPECT_EQ(test::read_file(o.csv), "batch,x,error\n1,10,\n3,30,\n");  // grid order
  {
    // A kill in the middle of a journal line: the torn line is dropped.
    std::ofstream(o.csv + ".journal", std::ios::app) << "point 1\tfig";
    SweepStore store(o);
    EXPECT_EQ(store.finished_count(), 2u);
    EXPECT_TRUE(store.finished(0));
    EXPECT_FALSE(store.finished(1));
    EXPECT_EQ(store.figures(2), "thirty");
    store.record(1, nullptr, "2,20,", "twenty");
  }
  EXPECT_EQ(test::read_file(o.csv), "batch,x,error\n1,10,\n2,20,\n3,30,\n");
  SweepStore::Options other = o;
  other.definition = "--vary batch=1,2,4\n";
  EXPECT_NE(test::error_of([&] { SweepStore s(other); })
                .find("holds the results of another sweep (it has 'def --vary batch=1,2,3' where "
                      "this one has 'def --vary batch=1,2,4')"),
            std::string::npos);
  other.restart = true;  // starts over
  SweepStore fresh(other);
  EXPECT_EQ(fresh.finished_count(), 0u);
}

// A sweep's definition holds its options and what the files they name
// hold: an edited system file makes it another sweep.
TEST(Sweep, ADefinitionChangesWithAnOptionOrAFileTheOptionsName) {
  const test::TempDir dir;
  const std::string file = dir.path() + "/a.textproto";
  std::ofstream(file) << "name: \"a\"";
  const auto before = sweep_definition({{"system", file}, {"vary", "system=" + file + ",x"}});
  EXPECT_EQ(before, sweep_definition({{"system", file}, {"vary", "system=" + file + ",x"}}));
  EXPECT_NE(before.find(file + ": 9 bytes, CRC-32 "), std::string::npos) << before;
  EXPECT_NE(before, sweep_definition({{"system", file}, {"vary", "system=" + file + ",y"}}));
  std::ofstream(file) << "name: \"b\"";  // the same size, other bytes
  EXPECT_NE(before, sweep_definition({{"system", file}, {"vary", "system=" + file + ",x"}}));
}

TEST(Sweep, PointsTheCompilerCannotTellApartShareOneProgram) {
  const std::string hw = test::source_path("examples/hw/npu-hbm3.textproto");
  WorkloadOptions w;
  w.layer = "tiny";
  const System base = load_system(hw, {});
  // What only the simulator reads: the refresh, the page policy, a link.
  for (const char* set : {"memory.dram.refresh=NO_REFRESH", "memory.dram.page_policy=CLOSED_PAGE",
                          "topology.chip_link.bandwidth_gbps=50"}) {
    EXPECT_EQ(compile_key(load_system(hw, {set}), hw, w), compile_key(base, hw, w)) << set;
  }
  // What the compiler sees: the memory's peak and latency, the core, the
  // parallelism, the workload, the file named in errors.
  for (const char* set :
       {"memory.dram.preset=\"HBM4-8000\"", "memory.dram.stacks=4", "core.scratchpad.banks=128",
        "core.dma.outstanding=64", "core_clock_ghz=1.5", "topology.cores=2"}) {
    EXPECT_NE(compile_key(load_system(hw, {set}), hw, w), compile_key(base, hw, w)) << set;
  }
  WorkloadOptions other = w;
  other.batch = 2;
  EXPECT_NE(compile_key(base, hw, other), compile_key(base, hw, w));
  EXPECT_NE(compile_key(base, "b.textproto", w), compile_key(base, hw, w));

  // A program from the cache runs as one compiled afresh.
  ProgramCache cache;
  const System closed = load_system(hw, {"memory.dram.page_policy=CLOSED_PAGE"});
  const Report open = run_workload(base, hw, w, &cache);
  const Report cached = run_workload(closed, hw, w, &cache);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cached.SerializeAsString(), run_workload(closed, hw, w).SerializeAsString());
  EXPECT_NE(cached.memory().dram().total().pre(), open.memory().dram().total().pre());
  // Another program goes in beside it; the oldest of three leaves.
  other.batch = 3;
  (void)run_workload(base, hw, other, &cache);
  (void)run_workload(base, hw, w, &cache);
  EXPECT_EQ(cache.hits(), 2u);
}

TEST(Sweep, ReportsAreNamedByTheirValues) {
  const auto names =
      sweep_report_names({"system", "memory.dram.preset"}, {{"a/b/npu.textproto", "\"HBM3-6400\""},
                                                            {"a/npu.textproto", "x y"},
                                                            {"b/npu.textproto", "x_y"}});
  EXPECT_EQ(names[0], "system=npu_memory.dram.preset=HBM3-6400");
  EXPECT_EQ(names[1], "system=npu_memory.dram.preset=x-y_1");  // the same name twice: indexed
  EXPECT_EQ(names[2], "system=npu_memory.dram.preset=x-y_2");
}

}  // namespace
}  // namespace npusim::sim

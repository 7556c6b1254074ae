// Sweeps: axes, the grid's order, and a CSV whose varied columns are not
// repeated.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/sweep.h"
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
  std::ostringstream csv;
  write_sweep_csv(csv, {parse_sweep_axis("kv-len=64,128")}, {{"64"}, {"128"}}, reports);
  std::istringstream lines(csv.str());
  std::string header, row;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("kv_len,system,model,phase,batch,layers,tokens,cycles,", 0), 0u) << header;
  EXPECT_EQ(header.find(",kv_len"), std::string::npos);
  size_t rows = 0;
  while (std::getline(lines, row)) {
    EXPECT_EQ(row.rfind(rows == 0 ? "64,npu-128x128-ideal,tiny,decode,1," : "128,", 0), 0u) << row;
    ++rows;
  }
  EXPECT_EQ(rows, 2u);
}

}  // namespace
}  // namespace npusim::sim

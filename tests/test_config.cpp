// System configs: defaults, overrides, and errors that name the file and field.
#include <gtest/gtest.h>

#include "common/error.h"
#include "sim/config.h"
#include "test_util.h"

namespace npusim::sim {
namespace {

TEST(Config, DefaultsFillOnlyAbsentFields) {
  System s;
  parse_textproto("memory { ideal { bandwidth_gbps: 10 } }", "x", &s);
  apply_defaults(s);
  EXPECT_EQ(s.core().array().rows(), 128u);
  EXPECT_EQ(s.core().array().dataflow(), WEIGHT_STATIONARY);
  EXPECT_EQ(s.core().dma().outstanding(), 64u);
  EXPECT_DOUBLE_EQ(s.core_clock_ghz(), 1.0);
  EXPECT_NO_THROW(validate(s, "x"));
}

TEST(Config, OverridesReachAnyField) {
  System s = test::preset({"core.array.rows=256", "memory.ideal.latency_ns=7",
                           "core.array.dataflow=OUTPUT_STATIONARY", "name=\"swept\""});
  EXPECT_EQ(s.core().array().rows(), 256u);
  EXPECT_DOUBLE_EQ(s.memory().ideal().latency_ns(), 7.0);
  EXPECT_EQ(s.core().array().dataflow(), OUTPUT_STATIONARY);
  EXPECT_EQ(s.name(), "swept");
}

TEST(Config, ErrorsNameTheFileAndField) {
  EXPECT_NE(test::error_of([] {
              System s;
              parse_textproto("core { array { rowz: 1 } }", "a.textproto", &s);
            })
                .find("a.textproto:1:20: core.array.rowz: Message type \"npusim.ArrayConfig\" has "
                      "no field named \"rowz\""),
            std::string::npos);
  EXPECT_EQ(test::error_of([] { (void)test::preset({"core.array.cols=0"}); })
                .find(test::source_path("examples/hw/npu-128x128-ideal.textproto") +
                      ": core.array.cols: must be between 1 and 4096 (PEs), not 0"),
            0u);
  EXPECT_NE(test::error_of([] {
              (void)test::preset({"core.scratchpad.banks=3"});
            }).find("core.scratchpad.banks: must divide capacity_bytes"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { (void)test::preset({"core.array.rows=-1"}); }).find("--set"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { (void)test::preset({"core_clock_ghz=0"}); }).find("core_clock_ghz"),
            std::string::npos);
}

}  // namespace
}  // namespace npusim::sim

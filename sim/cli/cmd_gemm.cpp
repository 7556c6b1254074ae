// npusim gemm: one GEMM on one systolic array, compute only (SCALE-Sim style).
#include <fmt/format.h>

#include <charconv>

#include "arch/dataflow.h"
#include "common/error.h"
#include "sim/cli/command.h"

namespace npusim::cli {
namespace {

// A GEMM dimension's bound: 2^20 keeps every cycle count of a 1 x 1 array
// inside 64 bits.
constexpr uint64_t kMaxDim = uint64_t{1} << 20;

uint64_t dim(const std::string& text, const char* name, uint64_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || v == 0 || v > max) {
    throw UserError(
        fmt::format("npusim gemm: {}: '{}' is not an integer between 1 and {}", name, text, max));
  }
  return v;
}

int gemm(const std::vector<std::string>& argv) {
  Args args("gemm", argv);
  std::string array = "128x128", dataflow = "ws";
  std::vector<std::string> mkn;
  args.option("array", &array, "array shape ROWSxCOLS (default 128x128)");
  args.option("dataflow", &dataflow, "os, ws or is (default ws)");
  bool double_buffered = false;
  args.flag("double-buffered", &double_buffered,
            "the stationary operand of the next fold loads while this one computes");
  args.positional("M K N", &mkn, 3, 3, "GEMM: [M x K] times [K x N]");
  if (!args.parse()) return 0;
  const auto x = array.find('x');
  if (x == std::string::npos) {
    throw UserError("npusim gemm: --array: '" + array + "' is not ROWSxCOLS");
  }
  const arch::ArrayShape shape{dim(array.substr(0, x), "--array rows", 4096),
                               dim(array.substr(x + 1), "--array cols", 4096), double_buffered};
  const arch::DataflowInfo* df = arch::DataflowRegistry::find(dataflow);
  if (df == nullptr) {
    throw UserError("npusim gemm: --dataflow: '" + dataflow + "' is not one of os, ws, is");
  }
  const arch::GemmShape g{dim(mkn[0], "M", kMaxDim), dim(mkn[1], "K", kMaxDim),
                          dim(mkn[2], "N", kMaxDim)};
  const arch::GemmTiming t = arch::gemm_timing(*df, shape, g);
  fmt::print("array {}x{} {}  M={} K={} N={}\n", shape.rows, shape.cols, df->name, g.m, g.k, g.n);
  fmt::print("compute cycles      {}\n", t.cycles);
  fmt::print("folds               {}\n", t.folds);
  fmt::print("MACs                {}\n", t.macs);
  fmt::print("mapping efficiency  {:.2f}%\n", 100.0 * t.mapping_efficiency);
  fmt::print("utilisation         {:.2f}%\n", 100.0 * t.utilization);
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(gemm, "compute cycles of one GEMM on one systolic array", gemm);

}  // namespace npusim::cli

#include "arch/dataflow.h"

#include <algorithm>
#include <map>

#include "common/integer.h"

namespace npusim::arch {
namespace {
std::map<int, DataflowInfo>& table() {
  static std::map<int, DataflowInfo> entries;
  return entries;
}
}  // namespace

bool DataflowRegistry::add(DataflowInfo info) {
  const int key = static_cast<int>(info.dataflow);
  return table().emplace(key, std::move(info)).second;
}

const DataflowInfo* DataflowRegistry::find(Dataflow dataflow) {
  auto it = table().find(static_cast<int>(dataflow));
  return it == table().end() ? nullptr : &it->second;
}

const DataflowInfo* DataflowRegistry::find(const std::string& name) {
  for (const auto& [key, info] : table()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::vector<const DataflowInfo*> DataflowRegistry::all() {
  std::vector<const DataflowInfo*> out;
  for (const auto& [key, info] : table()) out.push_back(&info);
  return out;
}

GemmTiming gemm_timing(const DataflowInfo& dataflow, const ArrayShape& array,
                       const GemmShape& gemm) {
  const DataflowMapping map = dataflow.map(gemm);
  const uint64_t row_folds = ceil_div(map.spatial_rows, array.rows);
  const uint64_t col_folds = ceil_div(map.spatial_cols, array.cols);
  GemmTiming t;
  t.folds = row_folds * col_folds;
  t.hidden_preload = map.preload && array.double_buffered;
  // One fold: (preload) + fill + T streamed + drain, SCALE-Sim's closed form;
  // the preload takes P = rows / preload_rows cycles (rows with SCALE-Sim's
  // one row a cycle).
  const uint64_t p = array.preload_cycles();
  const uint64_t fold = (map.preload ? p : 0) + array.rows + array.cols + map.temporal - 2;
  if (t.hidden_preload) {
    // Folds follow each other through the pipeline: the next fold's operand
    // shifts into the shadow registers (P cycles) while this fold's T rows
    // enter, so a fold starts max(T, P) after the previous one; the array
    // fills and drains once per tile.
    t.cycles = fold + (t.folds - 1) * std::max(map.temporal, p) - 1;
    t.load_cycles = p + (t.folds - 1) * (p - std::min(map.temporal, p));
    const uint64_t tail = array.rows + array.cols + map.temporal - std::max(map.temporal, p);
    t.tail_overlap = tail > 3 ? tail - 3 : 0;
  } else {
    t.cycles = t.folds * fold - 1;
    t.load_cycles = map.preload ? t.folds * p : 0;
  }
  t.macs = gemm.m * gemm.k * gemm.n;
  t.mapping_efficiency = static_cast<double>(map.spatial_rows * map.spatial_cols) /
                         static_cast<double>(t.folds * array.rows * array.cols);
  t.utilization =
      static_cast<double>(t.macs) / static_cast<double>(array.rows * array.cols * t.cycles);
  return t;
}

}  // namespace npusim::arch

// Systolic-array dataflows. Each dataflow lives in its own file and registers
// how it maps a GEMM onto the array; the cycle count is the SCALE-Sim v2
// closed form shared by all of them (see ../shared/reference/hardware.md):
//
//   folds  = ceil(Sr / rows) * ceil(Sc / cols)
//   cycles = folds * (preload * rows + rows + cols + T - 2) - 1
//
// where (Sr, Sc, T) is the dataflow's mapping of (M, N, K) and `preload` is 1
// when the stationary operand is loaded into the array before each fold.
// With a double-buffered array the next fold's stationary operand shifts into
// shadow registers (rows cycles) while the current fold's T rows stream in,
// and the switch follows the data wavefront diagonally through the PEs, so
// folds pipeline: a fold starts max(T, rows) cycles after the previous one
// and the array fills and drains once per tile:
//
//   cycles = (2 * rows + cols + T - 2) + (folds - 1) * max(T, rows) - 1
//
// (equal to the serial form for one fold). Tiles that follow each other on
// a double-buffered array pipeline the same way when the next tile's
// operands are ready (MatrixUnit; GemmTiming::tail_overlap).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "arch/isa.pb.h"

namespace npusim::arch {

struct GemmShape {
  uint64_t m = 0;  // rows of the input / output
  uint64_t k = 0;  // reduction dimension
  uint64_t n = 0;  // columns of the weight / output
};

struct ArrayShape {
  uint64_t rows = 0;
  uint64_t cols = 0;
  // The PEs hold a second (shadow) copy of the stationary operand, so the
  // next fold's operand shifts in while the current fold computes, as in the
  // TPU's matrix unit ("weights are double-buffered", Jouppi et al., ISCA
  // 2017). Folds pipeline; only the first fold of a tile waits for its
  // preload, and it too hides under the previous tile when its operand is
  // ready early (MatrixUnit).
  bool double_buffered = false;
  // Rows of the stationary operand shifted in per cycle (1: SCALE-Sim's).
  uint64_t preload_rows = 1;
  // Cycles one fold's stationary operand takes to shift in.
  [[nodiscard]] uint64_t preload_cycles() const {
    return (rows + preload_rows - 1) / std::max<uint64_t>(preload_rows, 1);
  }
};

// How a dataflow lays a GEMM onto the array.
struct DataflowMapping {
  uint64_t spatial_rows = 0;  // Sr: the dimension spread over array rows
  uint64_t spatial_cols = 0;  // Sc: the dimension spread over array columns
  uint64_t temporal = 0;      // T: the dimension streamed through in time
  bool preload = false;       // stationary operand loaded before each fold
};

struct DataflowInfo {
  std::string name;   // short name: "os", "ws", "is"
  Dataflow dataflow;  // ISA enum
  DataflowMapping (*map)(const GemmShape&);
};

struct GemmTiming {
  uint64_t folds = 0;
  uint64_t cycles = 0;
  uint64_t macs = 0;
  // A double-buffered array loads each fold's stationary operand under the
  // previous fold; only the first preload (array rows cycles) is exposed, and
  // the matrix unit may hide that one under the array's previous tile.
  bool hidden_preload = false;
  // Cycles the array waits for a stationary operand to shift in (the
  // operand load path, rather than the MACs, sets them): every fold's
  // preload in serial mode; with double buffering the first fold's preload
  // and, in each later fold, the rows - T cycles its preload outlasts the T
  // streamed rows. 0 without a stationary operand (OS).
  uint64_t load_cycles = 0;
  // How much of a double-buffered tile the array's next tile may overlap
  // (T the streamed dimension): its last fold starts R + C + T - 3
  // cycles before the tile ends, and the next tile's first fold (its
  // operand preloaded meanwhile) may follow max(T, R) after it, as folds
  // follow each other within a tile; so C + min(T, R) - 3 cycles of fill
  // and drain overlap (0 without hidden_preload). Back to back, a tile then
  // adds folds x max(T, R) cycles.
  uint64_t tail_overlap = 0;
  // Share of the PEs holding useful work, averaged over folds (SCALE-Sim's
  // mapping efficiency).
  double mapping_efficiency = 0.0;
  // macs / (rows * cols * cycles)
  double utilization = 0.0;
};

class DataflowRegistry {
 public:
  static bool add(DataflowInfo info);
  // nullptr when not registered.
  [[nodiscard]] static const DataflowInfo* find(Dataflow dataflow);
  [[nodiscard]] static const DataflowInfo* find(const std::string& name);
  [[nodiscard]] static std::vector<const DataflowInfo*> all();
};

// Compute cycles of one GEMM on one array, stall free.
[[nodiscard]] GemmTiming gemm_timing(const DataflowInfo& dataflow, const ArrayShape& array,
                                     const GemmShape& gemm);

}  // namespace npusim::arch

#define NPUSIM_REGISTER_DATAFLOW(NAME, ...)                              \
  [[maybe_unused]] static const bool npusim_dataflow_registered_##NAME = \
      ::npusim::arch::DataflowRegistry::add(__VA_ARGS__)

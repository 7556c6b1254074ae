#include "arch/matrix_unit.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "common/dtype.h"

namespace npusim::arch {

MatrixUnit::MatrixUnit(const sc_core::sc_module_name& name, const Instructions& queue,
                       CoreContext& context, const MatrixConfig& config)
    : Engine(name, MATRIX, queue, context),
      config_(config),
      free_at_ps_(config.count, 0),
      tail_ps_(config.count, 0),
      latest_(config.count) {
  if (ResourceLedger* ledger = context.ledger) {
    const auto arrays = static_cast<double>(config.count);
    const auto clock_ps = static_cast<double>(context.clock.value());
    // Array-cycles: an array is busy either streaming operands through its
    // MACs (fill, T rows, drain) or waiting for a stationary operand to load.
    compute_ = ledger->add_resource(
        {"array compute", ResourcePath::Matrix, "array-cycles", arrays / clock_ps,
         fmt::format("{} arrays of {}x{}", config.count, config.array.rows, config.array.cols),
         "arrays"});
    load_ = ledger->add_resource(
        {"array operand load", ResourcePath::Matrix, "array-cycles", arrays / clock_ps,
         fmt::format("{} arrays, {} row(s) of {} stationary operands per cycle each", config.count,
                     config.array.preload_rows, config.array.cols),
         "arrays"});
  }
}

MatrixUnit::Pending MatrixUnit::pending_at(uint64_t t_ps) const {
  Pending p;
  for (const Tile& tile : latest_) {
    if (tile.end_ps <= t_ps || tile.end_ps <= tile.start_ps) continue;
    const double left = static_cast<double>(tile.end_ps - std::max(t_ps, tile.start_ps)) /
                        static_cast<double>(tile.end_ps - tile.start_ps);
    p.macs_by_dtype[tile.dtype] += left * static_cast<double>(tile.macs);
    p.spm_bytes += left * static_cast<double>(tile.spm_bytes);
  }
  return p;
}

void MatrixUnit::execute(const Instruction& instruction) {
  const MatrixOp& op = instruction.matrix();
  const Dataflow df = op.dataflow() == DATAFLOW_UNSPECIFIED ? config_.dataflow : op.dataflow();
  const DataflowInfo* info = DataflowRegistry::find(df);
  if (info == nullptr) throw std::logic_error("matrix op with unregistered dataflow");
  const GemmTiming timing = gemm_timing(*info, config_.array, {op.m(), op.k(), op.n()});

  const auto array = static_cast<size_t>(std::min_element(free_at_ps_.begin(), free_at_ps_.end()) -
                                         free_at_ps_.begin());
  // The queue reaches a tile at `now`; its operands may have been in the
  // scratchpad since `ready`.
  const uint64_t now = now_ps();
  const uint64_t ready = inputs_ready_ps();
  const uint64_t free_at = free_at_ps_[array];
  uint64_t start = std::max(now, free_at);
  uint64_t cycles = timing.cycles;
  uint64_t load = timing.load_cycles;
  if (timing.hidden_preload && free_at > now) {
    // A double-buffered array shifts this tile's first stationary operand
    // into its shadow registers during the previous tile's last fold, from
    // when the operand is ready (its preload cycles). Loaded in time, the tile's
    // first fold follows the previous tile's last fold as folds follow each
    // other within a tile: the previous tile's drain and this one's fill
    // overlap (GemmTiming::tail_overlap).
    const uint64_t preload = config_.array.preload_cycles();
    const uint64_t fold_start =
        std::max({free_at - std::min(free_at, tail_ps_[array]), ready + cycles_ps(preload), now});
    if (fold_start < free_at) {
      start = fold_start;
      cycles -= preload;
      load -= preload;
    } else {
      const uint64_t hidden = std::min<uint64_t>(preload, (free_at - ready) / cycles_ps(1));
      cycles -= hidden;
      load -= hidden;
    }
  }
  wait_until(start);  // every array busy: the queue waits for one to free
  const uint64_t end = start + cycles_ps(cycles);
  // What the tile adds to the array's busy time (beyond what overlaps the
  // previous tile), split between waiting for operands to load and
  // streaming through the MACs.
  const uint64_t from = std::max(start, free_at);
  const uint64_t added = (end - from) / cycles_ps(1);
  load = std::min(load, added);
  free_at_ps_[array] = end;
  tail_ps_[array] = timing.hidden_preload ? cycles_ps(timing.tail_overlap) : 0;
  busy(start, end);
  if (ResourceLedger* ledger = context_.ledger) {
    ledger->add(compute_, from, end, static_cast<double>(added - load));
    ledger->add(load_, from, end, static_cast<double>(load));
  }
  complete_at(end, instruction);

  ++stats_.tiles;
  stats_.tile_cycles += added;
  stats_.macs += timing.macs;
  if (NodeProfile* p = node_profile(instruction)) p->macs += timing.macs;
  stats_.macs_by_dtype[compute_dtype(op)] += timing.macs;
  const uint64_t out = dtype_bytes(FP32, uint64_t{op.m()} * op.n());
  const uint64_t spm = dtype_bytes(a_dtype(op), uint64_t{op.m()} * op.k()) +
                       dtype_bytes(op.dtype(), uint64_t{op.k()} * op.n()) +
                       (op.accumulate() ? 2 : 1) * out;
  stats_.spm_bytes += spm;
  latest_[array] = {start, end, timing.macs, spm, compute_dtype(op)};
}

}  // namespace npusim::arch

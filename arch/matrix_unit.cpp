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
      latest_(config.count) {
  if (ResourceLedger* ledger = context.ledger) {
    const auto arrays = static_cast<double>(config.count);
    const auto clock_ps = static_cast<double>(context.clock.value());
    // Array-cycles: an array is busy either streaming operands through its
    // MACs (fill, T rows, drain) or waiting for a stationary operand to load.
    compute_ = ledger->add_resource(
        {"array compute", ResourcePath::Matrix, "array-cycles", arrays / clock_ps,
         fmt::format("{} arrays of {}x{}", config.count, config.array.rows, config.array.cols)});
    load_ = ledger->add_resource(
        {"array operand load", ResourcePath::Matrix, "array-cycles", arrays / clock_ps,
         fmt::format("{} arrays, one row of {} stationary operands per cycle each", config.count,
                     config.array.cols)});
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
  const uint64_t ready = now_ps();  // operands in the scratchpad, semaphores taken
  const uint64_t start = std::max(ready, free_at_ps_[array]);
  wait_until(start);  // every array busy: the queue waits for one to free
  // A double-buffered array shifts this tile's first stationary operand into
  // its shadow registers during the previous tile's last fold (at least
  // `rows` cycles long), from when the operand is ready.
  uint64_t cycles = timing.cycles;
  uint64_t load = timing.load_cycles;
  if (timing.hidden_preload && free_at_ps_[array] > ready) {
    const uint64_t hidden =
        std::min<uint64_t>(config_.array.rows, (free_at_ps_[array] - ready) / cycles_ps(1));
    cycles -= hidden;
    load -= hidden;
  }
  const uint64_t end = start + cycles_ps(cycles);
  free_at_ps_[array] = end;
  busy(start, end);
  if (ResourceLedger* ledger = context_.ledger) {
    ledger->add(compute_, start, end, static_cast<double>(cycles - load));
    ledger->add(load_, start, end, static_cast<double>(load));
  }
  stats_.load_cycles += load;
  complete_at(end, instruction);

  ++stats_.tiles;
  stats_.tile_cycles += cycles;
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

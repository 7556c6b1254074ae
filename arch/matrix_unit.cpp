#include "arch/matrix_unit.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include "common/dtype.h"

namespace npusim::arch {
namespace {

// The bytes of a rows x cols operand at `addr`, lines `ld` elements apart
// (0: packed), as the functional model reads it (functional.cpp).
MatrixUnit::Span span_of(uint64_t addr, DType dtype, uint64_t rows, uint64_t cols, uint64_t ld,
                         bool col_major) {
  const uint64_t inner = col_major ? rows : cols;
  return {addr, col_major ? cols : rows, dtype_bytes(dtype, inner),
          dtype_bytes(dtype, ld == 0 ? inner : ld)};
}

}  // namespace

bool MatrixUnit::Span::lines_meet(const Span& o) const {
  // Lines equally far apart (tiles of one matrix): they overlap when some
  // line of each does. Otherwise the ranges' overlap is taken as one.
  if (stride_bytes != o.stride_bytes || line_bytes > stride_bytes || o.line_bytes > stride_bytes) {
    return true;
  }
  // Line j of o starts d + (j - i) s bytes after line i of this one: they
  // meet when -o.line_bytes < d + q s < line_bytes for some q = j - i.
  const auto s = static_cast<int64_t>(stride_bytes);
  const int64_t d = static_cast<int64_t>(o.addr) - static_cast<int64_t>(addr);
  const int64_t low = -static_cast<int64_t>(o.line_bytes) + 1 - d;  // q s >= low
  int64_t q = low >= 0 ? (low + s - 1) / s : -((-low) / s);
  const auto q_min = -static_cast<int64_t>(lines - 1), q_max = static_cast<int64_t>(o.lines - 1);
  q = std::max(q, q_min);
  return q <= q_max && d + q * s < static_cast<int64_t>(line_bytes);
}

MatrixUnit::MatrixUnit(const sc_core::sc_module_name& name, const Instructions& queue,
                       CoreContext& context, const MatrixConfig& config)
    : Engine(name, MATRIX, queue, context),
      config_(config),
      latest_(config.count),
      ends_(config.count, 0),
      quiet_(config.count, 0) {
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

  const uint64_t m = op.m(), k = op.k(), n = op.n();
  const DType out_dtype = op.out_dtype() == DTYPE_UNSPECIFIED ? FP32 : op.out_dtype();
  const Span writes = span_of(op.spm_out(), out_dtype, m, n, op.ldo(), op.out_col_major());
  const Span a = span_of(op.spm_a(), a_dtype(op), m, k, op.lda(), op.a_col_major());
  const Span b = span_of(op.spm_b(), op.dtype(), k, n, op.ldb(), op.b_col_major());
  // Partial sums read as the functional model reads them (functional.cpp).
  const Span acc = !op.accumulate() ? Span{}
                   : op.has_spm_acc()
                       ? span_of(op.spm_acc(), FP32, m, n, 0, op.out_col_major())
                       : span_of(op.spm_out(), FP32, m, n, op.ldo(), op.out_col_major());
  // The queue reaches a tile at `now`; its operands may have been in the
  // scratchpad since `ready`.
  const uint64_t now = now_ps();
  const uint64_t ready = inputs_ready_ps();
  // The array that frees first, unless an array's latest tile, still
  // computing, writes what this one reads or writes: then that array, which
  // frees when the writer ends (no array could start the tile sooner). There
  // the tile may overlap the writer's drain as any next tile does when it
  // accumulates into or writes over the writer's output (the array sums its
  // own partial sums in order); when it reads that output as an operand, it
  // starts once the output has drained. So with an output still draining
  // under the next tile on its array: read as an operand once drained, and
  // summed into or written over once drained unless on that array.
  const auto operand = [&](const Span& out) { return out.overlaps(a) || out.overlaps(b); };
  const auto written = [&](const Span& out) { return out.overlaps(writes) || out.overlaps(acc); };
  size_t array = 0;
  uint64_t after = 0;    // when the latest such writer ends
  uint64_t drained = 0;  // when the outputs it must wait for have drained
  // The two latest-draining outputs it sums into or writes over, and their
  // arrays (the one it runs on needs no wait).
  std::array<std::pair<uint64_t, size_t>, 2> writes_draining{};
  uint64_t first_free = ends_[0];  // latest_[array].end_ps while no writer is found
  for (size_t x = 0; x < latest_.size(); ++x) {
    if (after == 0 && ends_[x] < first_free) {
      array = x;
      first_free = ends_[x];
    }
    if (quiet_[x] <= now) continue;  // idle (computed and drained): no hazard
    const Tile& t = latest_[x];
    if (t.draining_end_ps > now) {
      if (operand(t.draining)) {
        drained = std::max(drained, t.draining_end_ps);
      } else if (written(t.draining)) {
        auto& [first, second] = writes_draining;
        if (t.draining_end_ps > first.first) {
          second = first;
          first = {t.draining_end_ps, x};
        } else if (t.draining_end_ps > second.first) {
          second = {t.draining_end_ps, x};
        }
      }
    }
    if (t.end_ps <= now) continue;
    const bool reads = operand(t.out);
    if (reads) drained = std::max(drained, t.end_ps);
    if (t.end_ps > after && (reads || written(t.out))) {
      after = t.end_ps;
      array = x;
    }
  }
  drained = std::max(drained, writes_draining[0].second != array ? writes_draining[0].first
                                                                 : writes_draining[1].first);
  const uint64_t free_at = latest_[array].end_ps;
  uint64_t start = std::max({now, free_at, drained});
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
    const uint64_t fold_start = std::max({free_at - std::min(free_at, latest_[array].tail_ps),
                                          ready + cycles_ps(preload), now, drained});
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
  const Tile& before = latest_[array];
  const bool under = before.end_ps > start;  // this tile starts under its drain
  latest_[array] = {start,
                    end,
                    timing.macs,
                    spm,
                    compute_dtype(op),
                    writes,
                    timing.hidden_preload ? cycles_ps(timing.tail_overlap) : 0,
                    under ? before.out : Span{},
                    under ? before.end_ps : 0};
  ends_[array] = latest_[array].end_ps;
  quiet_[array] = std::max(latest_[array].end_ps, latest_[array].draining_end_ps);
}

}  // namespace npusim::arch

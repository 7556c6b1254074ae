// The matrix unit: `count` systolic arrays of rows x cols fed by one in-order
// queue. Each tile instruction goes to the array that frees first and takes
// the dataflow's closed-form cycles (dataflow.h). A tile that touches what
// an array's latest tile, still computing, writes (partial sums it
// accumulates into, an operand forwarded from it, an output it writes over)
// goes to that array and follows the writer: an accumulation chain runs one
// tile at a time, each tile's fill under the one before's drain, as the
// array sums in order; a tile that reads the output as an operand starts
// once all of it has drained into the scratchpad. The output of a tile still
// draining under the next one on its array is read as an operand once it has
// drained, and summed into or written over then too, unless on that array.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "arch/dataflow.h"
#include "arch/engine.h"

namespace npusim::arch {

struct MatrixConfig {
  ArrayShape array{128, 128};
  uint32_t count = 1;
  Dataflow dataflow = WEIGHT_STATIONARY;  // for tiles that do not name one
};

struct MatrixStats {
  uint64_t tiles = 0;
  // Summed cycles the tiles kept the arrays busy: their closed-form cycles,
  // less what overlaps the tile before on the same array.
  uint64_t tile_cycles = 0;
  uint64_t macs = 0;
  // The same by the type the arrays compute in (indexed by DType).
  std::array<uint64_t, DType_ARRAYSIZE> macs_by_dtype{};
  // Scratchpad traffic: A and B read once per tile, the fp32 output written
  // (and read first when the tile accumulates into it).
  uint64_t spm_bytes = 0;
};

class MatrixUnit : public Engine {
 public:
  // Scratchpad bytes a tile operand spans: `lines` lines of `line_bytes`,
  // `stride_bytes` apart.
  struct Span {
    uint64_t addr = 0, lines = 0, line_bytes = 0, stride_bytes = 0;
    // Whether a byte is in both. (Inline: a tile tests every array's
    // latest outputs, and most are elsewhere in the scratchpad, which the
    // first bytes' and ends' test settles.)
    [[nodiscard]] bool overlaps(const Span& o) const {
      if (lines == 0 || o.lines == 0) return false;
      const uint64_t end = addr + (lines - 1) * stride_bytes + line_bytes;
      const uint64_t o_end = o.addr + (o.lines - 1) * o.stride_bytes + o.line_bytes;
      return end > o.addr && o_end > addr && lines_meet(o);
    }

   private:
    // overlaps() for spans whose ranges overlap: whether some lines do.
    [[nodiscard]] bool lines_meet(const Span& o) const;
  };

  MatrixUnit(const sc_core::sc_module_name& name, const Instructions& queue, CoreContext& context,
             const MatrixConfig& config);

  [[nodiscard]] const MatrixStats& stats() const { return stats_; }
  // What the tiles still computing at `t_ps` have left, their MACs and
  // scratchpad bytes spread evenly over their cycles (stats() counts a tile
  // when it starts): for energy as of a time.
  struct Pending {
    std::array<double, DType_ARRAYSIZE> macs_by_dtype{};
    double spm_bytes = 0;
  };
  [[nodiscard]] Pending pending_at(uint64_t t_ps) const;

 protected:
  void execute(const Instruction& instruction) override;

 private:
  struct Tile {  // the latest tile of an array (its end: when the array frees)
    uint64_t start_ps = 0, end_ps = 0, macs = 0, spm_bytes = 0;
    DType dtype = DTYPE_UNSPECIFIED;
    Span out;              // what it writes
    uint64_t tail_ps = 0;  // how much of it the next tile may overlap
    // The tile before it on the array, when this one started under its
    // drain: what it writes, and when its last output has drained.
    Span draining;
    uint64_t draining_end_ps = 0;
  };
  MatrixConfig config_;
  MatrixStats stats_;
  std::vector<Tile> latest_;  // per array
  // Per array, dense (a tile scans them all, where a Tile is two cache
  // lines): its latest tile's end, and when it has also drained.
  std::vector<uint64_t> ends_, quiet_;
  ResourceLedger::Column compute_ = 0, load_ = 0;
};

}  // namespace npusim::arch

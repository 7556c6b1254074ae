#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "common/dtype.h"
#include "common/error.h"
#include "common/integer.h"
#include "compiler/lowering/gemm.h"

namespace npusim::compiler {
namespace {

// Fixed cycles charged per tile instruction, summed over the tiles and
// added to the memory time, so that the search prefers fewer, larger tiles
// where streaming sets the time. It ranks tilings and is not part of the
// estimate: nothing in the simulator takes these cycles (summed over 108
// arrays they were 19% of a GEMM's estimate; charged beside the compute
// too, they picked npu-hbm3 a 4096 x 12288 x 12288 tiling that re-read the
// activations 24 times, 1.32x the time of one with twice the tiles and
// less than half the traffic). It stands for what the model leaves out:
// per-transfer costs that make many small tiles stream slower (Llama-2-7B's
// LM head at batch 4 on npu-hbm3 in 4000 tiles of K 128 streams at 82.5% of
// peak against 96.8% in 1000 of K 512, where the model without the charge
// picks the first).
constexpr double kPerTileOverhead = 2.0;

// Estimates this close (a share of the better one) count as a tie.
constexpr double kTie = 0.005;

// Tile sizes along a dimension of `dim`: all of it, powers of two from
// `smallest`, and the arrays' rows and columns times powers of two (an
// array of 320 rows is filled by tiles of 320 or 640, not 256 or 512).
std::vector<uint64_t> candidates(uint64_t dim, uint64_t smallest, const arch::ArrayShape& array) {
  std::vector<uint64_t> out{dim};
  for (uint64_t t = smallest; t < dim; t *= 2) out.push_back(t);
  for (const uint64_t side : {array.rows, array.cols}) {
    for (uint64_t t = side; t > 0 && t < dim; t *= 2) {
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
  }
  return out;
}

struct Split {
  uint64_t full, size, rest;  // `full` tiles of `size`, then one of `rest` (0: none)
};
Split split(uint64_t dim, uint64_t tile) {
  return {dim / tile, tile, dim % tile};
}

// Summed cycles of every tile of the GEMM, back to back on its array: a
// double-buffered array overlaps a tile's fill with the drain of the tile
// before (MatrixUnit), as a K loop's tiles, which follow one another on
// one array, do. `edge`: the most one tile's fill and drain add alone (an
// array's first and last tile).
double compute_cycles(const GemmSpec& s, uint64_t tm, uint64_t tk, uint64_t tn, bool transposed,
                      const arch::DataflowInfo& df, const Target& t, double* edge) {
  double total = 0;
  *edge = 0;
  const Split m = split(s.m, tm), k = split(s.k, tk), n = split(s.n, tn);
  for (int mi = 0; mi < 2; ++mi) {
    for (int ki = 0; ki < 2; ++ki) {
      for (int ni = 0; ni < 2; ++ni) {
        const uint64_t count = (mi ? (m.rest ? 1 : 0) : m.full) * (ki ? (k.rest ? 1 : 0) : k.full) *
                               (ni ? (n.rest ? 1 : 0) : n.full);
        if (count == 0) continue;
        const uint64_t gm = mi ? m.rest : m.size;
        const uint64_t gk = ki ? k.rest : k.size;
        const uint64_t gn = ni ? n.rest : n.size;
        const arch::GemmShape shape =
            transposed ? arch::GemmShape{gn, gk, gm} : arch::GemmShape{gm, gk, gn};
        const arch::GemmTiming g = arch::gemm_timing(df, t.array, shape);
        const uint64_t overlap = g.hidden_preload ? t.array.preload_cycles() + g.tail_overlap : 0;
        total += static_cast<double>(count) * static_cast<double>(g.cycles - overlap);
        *edge = std::max(*edge, static_cast<double>(overlap));
      }
    }
  }
  return total;
}

// Weight tiles per cycle when `slots` weight buffers cycle between memory
// (each load a `latency`) and the arrays (each weight's tiles `demand`
// array-cycles over at most `arrays` arrays): mean value analysis of the
// closed network, the arrays one station of `arrays` servers as a server
// that many times as fast and a delay for the rest (Seidmann et al., 1987).
double weights_per_cycle(uint64_t slots, double latency, double demand, double arrays) {
  const double service = demand / arrays;
  const double delay = latency + demand - service;
  // Done when the arrays' bound (1 / service) is all but reached.
  double queue = 0, throughput = 0;
  for (uint64_t n = 1; n <= slots && throughput * service < 0.9999; ++n) {
    const double residence = service * (1.0 + queue);
    throughput = static_cast<double>(n) / (delay + residence);
    queue = throughput * residence;
  }
  return throughput;
}

GemmTiling choose(const GemmSpec& s, const Target& t, const SpmLayout& layout);

// Every field choose() reads (doubles by their bits): equal keys, equal
// choices.
std::vector<uint64_t> tiling_key(const GemmSpec& s, const Target& t, const SpmLayout& layout) {
  const auto bits = [](double d) {
    uint64_t u = 0;
    std::memcpy(&u, &d, sizeof u);
    return u;
  };
  std::vector<uint64_t> key = {
      s.batch, s.m, s.k, s.n,
      // The operands: dtypes, on chip or not, strides and B's layout.
      static_cast<uint64_t>(s.a.dtype), s.a.on_chip.has_value(), s.a_row_stride, s.a_batch_stride,
      static_cast<uint64_t>(s.b.dtype), static_cast<uint64_t>(s.b_layout),
      static_cast<uint64_t>(s.out.dtype), s.out.on_chip.has_value(), s.out_row_stride,
      s.out_batch_stride, s.b_scales.has_value(),
      s.b_scales ? static_cast<uint64_t>(s.b_scales->dtype) : 0, s.b_scales ? s.b_scales->group : 0,
      s.b_scales ? s.b_scales->k : 0,
      // The arrays.
      t.array.rows, t.array.cols, t.array.double_buffered, t.array.preload_rows, t.arrays,
      static_cast<uint64_t>(t.dataflow),
      // The memory, as stream_bytes_per_cycle() and the latency see it.
      bits(t.memory_bytes_per_cycle), bits(t.memory_peak_bytes_per_cycle),
      bits(t.memory_latency_cycles), t.memory_channels, t.memory_granule_bytes, t.dma_outstanding,
      t.dma_max_request_bytes, t.dma_outstanding_bytes};
  for (const Ring r : {Ring::Weight, Ring::MatIn, Ring::MatOut}) {
    key.push_back(layout[r].slot_bytes);
    key.push_back(layout[r].slots);
  }
  return key;
}

}  // namespace

std::shared_ptr<GemmTilingCache> new_tiling_cache() {
  return std::make_shared<GemmTilingCache>();
}

GemmTiling choose_gemm_tiling(const GemmSpec& s, const Target& t, const SpmLayout& layout) {
  if (t.tiling_cache_ == nullptr) return choose(s, t, layout);
  std::vector<uint64_t> key = tiling_key(s, t, layout);
  auto& chosen = t.tiling_cache_->chosen;
  if (auto it = chosen.find(key); it != chosen.end()) return it->second;
  const GemmTiling tiling = choose(s, t, layout);  // (an error is not kept: it names the node)
  chosen.emplace(std::move(key), tiling);
  return tiling;
}

namespace {

GemmTiling choose(const GemmSpec& s, const Target& t, const SpmLayout& layout) {
  const arch::DataflowInfo* df = arch::DataflowRegistry::find(t.dataflow);
  if (df == nullptr) throw std::logic_error("target dataflow is not registered");
  const uint64_t w_slot = layout[Ring::Weight].slot_bytes;
  const uint64_t a_slot = layout[Ring::MatIn].slot_bytes;
  const uint64_t o_slot = layout[Ring::MatOut].slot_bytes;
  const uint32_t a_slots = layout[Ring::MatIn].slots;
  const uint32_t o_slots = layout[Ring::MatOut].slots;

  // An operand forwarded on chip is there whole and costs no transfer.
  const bool a_on_chip = s.a.on_chip.has_value(), out_on_chip = s.out.on_chip.has_value();
  const bool whole =
      a_on_chip || (s.a_contiguous() && dtype_bytes(s.a.dtype, s.batch * s.m * s.k) <= a_slot);
  const bool out_whole =
      out_on_chip || (s.out_contiguous() && dtype_bytes(FP32, s.batch * s.m * s.n) <= o_slot);
  // Every tiling that fits, ranked after the loops (choose()).
  struct Candidate {
    double rank;     // estimated cycles, with the per-tile charge
    double traffic;  // cycles of streaming what it moves
    uint64_t tiles;
    GemmTiling tiling;
  };
  std::vector<Candidate> fits;
  for (uint64_t tk : candidates(s.k, 16, t.array)) {
    for (uint64_t tn : candidates(s.n, 16, t.array)) {
      if (s.b_tile_bytes(tk, tn) > w_slot) continue;
      for (uint64_t tm : candidates(s.m, 1, t.array)) {
        if (dtype_bytes(s.a.dtype, tm * tk) > a_slot) continue;
        if (dtype_bytes(FP32, tm * tn) > o_slot) continue;  // fp32 accumulators
        const uint64_t mt = ceil_div(s.m, tm), kt = ceil_div(s.k, tk), nt = ceil_div(s.n, tn);
        // Cycles to stream each operand once, at the rate its rows allow
        // (one DMA request per strided row; see Target::stream_bytes_per_cycle).
        // Rows that lie back to back in memory go as one transfer.
        const uint64_t b_row =
            dtype_bytes(s.b.dtype, s.b_layout == BLayout::Tiled ? tk * tn
                                   : s.b_layout == BLayout::KN  ? (tn == s.n ? tk * tn : tn)
                                                                : (tk == s.k ? tk * tn : tk));
        const uint64_t a_row = dtype_bytes(s.a.dtype, whole           ? s.batch * s.m * s.k
                                                      : tk == s.lda() ? tm * tk
                                                                      : tk);
        const uint64_t o_row = dtype_bytes(s.out.dtype, out_whole       ? s.batch * s.m * s.n
                                                        : tn == s.ldo() ? tm * tn
                                                                        : tn);
        const uint64_t scale_bytes = s.b_scales ? s.b_scales->streamed_bytes(tk, s.n) : 0;
        const double b_time =
            static_cast<double>(dtype_bytes(s.b.dtype, s.k * s.n)) /
                t.stream_bytes_per_cycle(b_row) +
            static_cast<double>(scale_bytes) / t.stream_bytes_per_cycle(dtype_bytes(FP16, tn));
        const double a_time = a_on_chip ? 0.0
                                        : static_cast<double>(dtype_bytes(s.a.dtype, s.m * s.k)) /
                                              t.stream_bytes_per_cycle(a_row);
        const double o_time = out_on_chip
                                  ? 0.0
                                  : static_cast<double>(dtype_bytes(s.out.dtype, s.m * s.n)) /
                                        t.stream_bytes_per_cycle(o_row);
        const uint64_t tiles = s.batch * mt * kt * nt;
        // Tiles run on the arrays in parallel, at most one per weight slot.
        const double parallel = static_cast<double>(
            std::min<uint64_t>({t.arrays, layout[Ring::Weight].slots - 1, tiles}));
        // The first tile's load and the last tile's compute do not overlap.
        const double fill =
            t.memory_latency_cycles +
            static_cast<double>(dtype_bytes(s.b.dtype, tk * tn)) / t.stream_bytes_per_cycle(b_row);
        // Loop orders: B (weights) outermost, read once, A re-read per group
        // of column blocks unless it stays resident; or A's row blocks outermost, each
        // resident while B streams past it once per row block.
        const double batch = static_cast<double>(s.batch);
        std::array<double, 2> edge{};
        const std::array<double, 2> compute = {
            batch * compute_cycles(s, tm, tk, tn, false, *df, t, &edge[0]),
            batch * compute_cycles(s, tm, tk, tn, true, *df, t, &edge[1])};
        for (bool rows_outer : {false, true}) {
          if (rows_outer && (a_on_chip || out_on_chip)) continue;
          if (rows_outer && (mt == 1 || kt > a_slots)) continue;  // a row block stays resident
          // A K loop's tiles run one after another (they sum into one
          // output): the arrays share the outputs of a group of column
          // blocks, each with its partial sums in an output slot. A group
          // of a K step's weight tiles is loaded before its tiles.
          const uint64_t rows = rows_outer ? 1 : mt;
          const uint64_t w_slots = layout[Ring::Weight].slots;
          const uint64_t per_slot = o_slot / acc_stride(tm, tn);
          const uint64_t accumulators = (o_slots - 1) * per_slot;
          if (kt > 1 && rows > accumulators) continue;
          const uint64_t g_max =
              kt == 1 ? 1 : std::min({nt, accumulators / rows, rows_outer ? nt : w_slots - 1});
          if (g_max == 0) continue;
          // Groups as even as the count they come in allows: enough outputs
          // for the arrays, or as many as the slots hold.
          const auto even = [](uint64_t all, uint64_t g) {
            return ceil_div(all, ceil_div(all, g));
          };
          const uint64_t g_need = even(nt, std::min(g_max, ceil_div(t.arrays, rows)));
          for (const uint64_t group : {g_need, even(nt, g_max)}) {
            // Problems whose K loops interleave with the group's, when its
            // own do not fill the arrays (a K step's tiles of all of them).
            uint64_t problems = 1;
            if (kt > 1 && !rows_outer && s.batch > 1) {
              const uint64_t chains = group * rows;
              problems =
                  std::max<uint64_t>(1, std::min({ceil_div(t.arrays, chains), accumulators / chains,
                                                  (w_slots - 1) / group, s.batch}));
              problems = even(s.batch, problems);
            }
            bool resident = whole || problems * mt * kt <= a_slots;
            double stream = 0;
            double exposed = 0;  // memory time nothing computes under
            const uint64_t groups = ceil_div(nt, group);
            if (!rows_outer) {
              stream = b_time + a_time * (resident ? 1 : static_cast<double>(groups)) + o_time;
            } else {
              resident = false;
              stream = b_time * static_cast<double>(mt) + a_time + o_time;
              // The next row block loads under this one only when the input
              // ring holds both; else each block's load waits for the last
              // tile of the block before to free its slots.
              if (2 * kt > a_slots) exposed = a_time;
            }
            // Group after group, each takes the longer of its compute, over
            // the arrays its K loops keep busy, and its share of the memory
            // time (a last, smaller group has fewer arrays for its compute).
            // A group's K loops end together, so its outputs are stored
            // together, and the in-order DMA loads nothing meanwhile: the
            // arrays compute under the stores only the K step loaded ahead.
            const uint64_t rest = nt % group;
            const bool burst = kt > 1 && !out_whole && !out_on_chip;
            const double stores = burst ? batch * o_time : 0.0;
            const double memory = batch * stream - batch * exposed - stores;
            const double blocks = rows_outer ? static_cast<double>(mt) : 1.0;
            // Each weight tile holds a slot of the weight ring from its
            // load's issue (a memory latency) until its tiles have computed:
            // with few slots for the latency, the slots bound how fast the
            // arrays go, and near that bound both slow each other.
            const double weight_tiles = batch * static_cast<double>(kt * nt) * blocks;
            for (bool transposed : {false, true}) {
              const double c = compute[transposed ? 1 : 0];
              // Group after group, with the memory work as estimated and as
              // ranked (the charge per tile makes the transfers slower, not
              // the arrays): {cost, rank} before the ends.
              const double charged = memory + kPerTileOverhead * static_cast<double>(tiles);
              const auto phase = [&](uint64_t cols, uint64_t probs) {
                const double busy =
                    std::min(parallel, static_cast<double>(kt > 1 ? cols * rows * probs : tiles));
                const double share =
                    static_cast<double>(cols * probs) / static_cast<double>(nt * s.batch);
                const double step = c * share / busy / blocks / static_cast<double>(kt);
                const double on_arrays =
                    weight_tiles * share /
                    weights_per_cycle(w_slots - 1, t.memory_latency_cycles, c / weight_tiles, busy);
                const double burst_wait = blocks * std::max(0.0, stores * share / blocks - step);
                return std::array<double, 2>{std::max(on_arrays, memory * share) + burst_wait,
                                             std::max(on_arrays, charged * share) + burst_wait};
              };
              std::array<double, 2> sums{};  // cost, rank
              const auto add = [&](double times, uint64_t cols, uint64_t probs) {
                if (times == 0 || cols == 0 || probs == 0) return;
                const std::array<double, 2> p = phase(cols, probs);
                sums[0] += times * p[0];
                sums[1] += times * p[1];
              };
              for (const uint64_t probs : {problems, s.batch % problems}) {
                const double times =
                    probs == problems ? static_cast<double>(s.batch / problems) : 1.0;
                add(times * static_cast<double>(nt / group), group, probs);
                add(times, rest, probs);
              }
              // The exposed loads are not overlapped: after the groups.
              const double tail = c / static_cast<double>(tiles) + edge[transposed ? 1 : 0];
              const double ends = batch * exposed + fill + tail;
              const double cost = sums[0] + ends;
              const double rank = sums[1] + ends;
              fits.push_back({rank, batch * stream, tiles,
                              GemmTiling{tm, tk, tn, transposed, resident && !rows_outer,
                                         whole && !rows_outer, out_whole && !rows_outer, rows_outer,
                                         group, problems, per_slot, cost}});
            }
            if (group == even(nt, g_max)) break;  // g_need was the same
          }
        }
      }
    }
  }
  if (fits.empty()) {
    throw UserError(fmt::format(
        "{}: core.scratchpad.capacity_bytes: {} bytes is too small for the smallest tile of "
        "node '{}' (M={}, K={}, N={}): a weight slot of {} bytes, an input slot of {} and an "
        "output slot of {} hold no 16x16 tile",
        t.where, t.spm_capacity_bytes, s.node, s.m, s.k, s.n, w_slot, a_slot, o_slot));
  }
  // The fastest; of those within kTie of it, the ones that move the least
  // (within kTie: the stream model knows nothing of DRAM bank conflicts, so
  // of two tilings it finds as fast, the one re-reading less is safer);
  // of those, the fewest tiles (fewer instructions to issue and simulate),
  // then the fastest. Each step compares with the best of the step before,
  // so ties never drift.
  double fastest = std::numeric_limits<double>::infinity();
  for (const Candidate& c : fits) fastest = std::min(fastest, c.rank);
  double least = std::numeric_limits<double>::infinity();
  for (const Candidate& c : fits) {
    if (c.rank <= fastest * (1 + kTie)) least = std::min(least, c.traffic);
  }
  const Candidate* best = nullptr;
  for (const Candidate& c : fits) {
    if (c.rank > fastest * (1 + kTie) || c.traffic > least * (1 + kTie)) continue;
    if (best == nullptr || c.tiles < best->tiles ||
        (c.tiles == best->tiles && c.rank < best->rank)) {
      best = &c;
    }
  }
  return best->tiling;
}

}  // namespace
}  // namespace npusim::compiler

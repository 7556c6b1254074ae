// Resources that can cap throughput, and the work each did over time.
//
// A resource (the DRAM channels' data buses, the scratchpad's DMA port, the
// DMA's transaction slots, the arrays, ...) has a capacity, work per ps at
// 100% busy, and records the work it does as it does it. Its busy share over
// a span is the work done in it / (capacity x span). The component that
// models the resource registers it (one call, from the component's own
// file) and adds its work; nothing else lists resources.
//
// Work is kept in windows of 2^shift ps from time 0: a run that outgrows
// kMaxWindows windows has neighbouring windows merged (the window doubles),
// so memory stays bounded and a short run keeps a fine resolution. Windows
// are stored in chunks allocated when first written, so a component that
// works in a few bursts (a pipeline stage among hundreds of chips:
// prefetching at the start, computing in its turn) holds only those. Columns
// that are not resources (a unit's stall time, say) are kept the same way,
// so that they can be compared window by window.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/integer.h"

namespace npusim {

// Whose work a resource limits: a unit waiting on the DMA waits on the
// resources of the memory path, and so on.
enum class ResourcePath : uint8_t { Memory, Matrix, Vector };

struct ResourceInfo {
  std::string name;   // "DRAM bus", "scratchpad DMA port", ...
  ResourcePath path;  // the unit whose work waits when it saturates
  std::string unit;   // of its work: "B", "clocks", "ACT", "cycles", "slot-ps"
  // Work per ps at 100% busy (for example bytes per ps for a port).
  double capacity_per_ps = 0;
  // How the capacity follows from the configuration, for reports.
  std::string capacity_note;
  // Resources registered one after another with the same group split one
  // unit's time between them (an array streams or waits for operands): the
  // limiter counts the group as busy as their sum.
  std::string group;
};

class ResourceLedger {
 public:
  using Column = uint32_t;
  static constexpr size_t kMaxWindows = 16384;
  static constexpr unsigned kFirstShift = 14;  // 16.4 ns

  // Registers a resource; its work goes to the returned column. Its name
  // takes the prefix set (a chip's core: "core1 DMA slots").
  Column add_resource(ResourceInfo info) {
    const Column c = add_column();
    info.name = prefix_ + info.name;
    resources_.push_back({std::move(info), c});
    return c;
  }
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  // A column that is not a resource.
  Column add_column() {
    const Column c = columns_++;
    for (Chunk& chunk : chunks_) {
      if (chunk.empty()) continue;
      Chunk grown(kChunk * columns_, 0.0);
      for (size_t w = 0; w < kChunk; ++w) {
        std::copy_n(chunk.begin() + static_cast<std::ptrdiff_t>(w * c), c,
                    grown.begin() + static_cast<std::ptrdiff_t>(w * columns_));
      }
      chunk = std::move(grown);
    }
    return c;
  }

  struct Registered {
    ResourceInfo info;
    Column column;
  };
  [[nodiscard]] const std::vector<Registered>& resources() const { return resources_; }

  // `work` done at time `t_ps`.
  void add_at(Column c, uint64_t t_ps, double work) { cell(window_of(t_ps), c) += work; }
  // Two columns' work done at the same time (one window lookup).
  void add_at(uint64_t t_ps, Column c1, double work1, Column c2, double work2) {
    double* window = cells(window_of(t_ps));
    window[c1] += work1;
    window[c2] += work2;
  }
  // `work` done evenly over [start, end).
  void add(Column c, uint64_t start_ps, uint64_t end_ps, double work) {
    const std::array<Share, 1> each{{{c, work}}};
    add_spread(start_ps, end_ps, each);
  }
  // Two columns' work done evenly over the same span (one pass; each
  // column's cells as add() would leave them).
  void add(uint64_t start_ps, uint64_t end_ps, Column c1, double work1, Column c2, double work2) {
    const std::array<Share, 2> each{{{c1, work1}, {c2, work2}}};
    add_spread(start_ps, end_ps, each);
  }

  // All the work of column `c`.
  [[nodiscard]] double total(Column c) const {
    double sum = 0;
    for (const Chunk& chunk : chunks_) {
      for (size_t w = 0; w < chunk.size() / std::max<size_t>(columns_, 1); ++w) {
        sum += chunk[w * columns_ + c];
      }
    }
    return sum;
  }
  [[nodiscard]] size_t windows() const { return windows_; }
  // Whether window `w` may hold work (its chunk was written).
  [[nodiscard]] bool held(size_t w) const { return w < windows_ && !chunks_[w / kChunk].empty(); }
  [[nodiscard]] uint64_t window_ps() const { return uint64_t{1} << shift_; }
  // A resource's busy share in one window: its work / (capacity x window).
  [[nodiscard]] double share_in(const Registered& r, size_t window) const {
    return r.info.capacity_per_ps > 0
               ? at(window, r.column) / (r.info.capacity_per_ps * static_cast<double>(window_ps()))
               : 0.0;
  }
  [[nodiscard]] double at(size_t window, Column c) const {
    return held(window) ? chunks_[window / kChunk][window % kChunk * columns_ + c] : 0.0;
  }
  // Work of column `c` in [from, to), whole windows prorated at the edges.
  [[nodiscard]] double work(Column c, uint64_t from_ps, uint64_t to_ps) const {
    if (to_ps <= from_ps) return 0.0;
    double sum = 0;
    const size_t last = std::min<size_t>((to_ps - 1) >> shift_, windows_ == 0 ? 0 : windows_ - 1);
    for (size_t w = from_ps >> shift_; w <= last && w < windows_; ++w) {
      const uint64_t a = std::max(from_ps, uint64_t{w} << shift_);
      const uint64_t b = std::min(to_ps, uint64_t{w + 1} << shift_);
      sum += at(w, c) * static_cast<double>(b - a) / static_cast<double>(window_ps());
    }
    return sum;
  }

 private:
  std::string prefix_;
  [[nodiscard]] size_t window_of(uint64_t t_ps) {
    const auto w = static_cast<size_t>(t_ps >> shift_);
    return w < windows_ ? w : grow(t_ps);
  }
  // window_of() past the last window: more windows, or wider ones. (Out of
  // line: work is added per DRAM row, and this is rare.)
  [[gnu::noinline]] size_t grow(uint64_t t_ps) {
    auto w = static_cast<size_t>(t_ps >> shift_);
    while (w >= kMaxWindows) {
      merge();
      w = static_cast<size_t>(t_ps >> shift_);
    }
    windows_ = std::max(w + 1, std::min(kMaxWindows, 2 * windows_));
    chunks_.resize(ceil_div(windows_, kChunk));
    return w;
  }
  struct Share {
    Column column;
    double work;
  };
  // Each share's work spread evenly over [start, end), windows prorated.
  template <size_t N>
  void add_spread(uint64_t start_ps, uint64_t end_ps, const std::array<Share, N>& each) {
    if (end_ps <= start_ps) {
      const size_t w = window_of(start_ps);
      for (const Share& s : each) cell(w, s.column) += s.work;
      return;
    }
    const size_t last = window_of(end_ps - 1);  // may merge; earlier windows exist then
    const auto first = static_cast<size_t>(start_ps >> shift_);
    if (first == last) {
      for (const Share& s : each) cell(first, s.column) += s.work;
      return;
    }
    // Each window gets per_ps x its ps of the span: the first from
    // start_ps, the last to end_ps, those between all of theirs.
    std::array<double, N> per_ps{}, whole{};
    for (size_t i = 0; i < N; ++i) {
      per_ps[i] = each[i].work / static_cast<double>(end_ps - start_ps);
      whole[i] = per_ps[i] * static_cast<double>(window_ps());
    }
    const auto add_to = [&](size_t w, const std::array<double, N>& work) {
      double* window = cells(w);
      for (size_t i = 0; i < N; ++i) window[each[i].column] += work[i];
    };
    const auto part = [&](uint64_t ps) {
      std::array<double, N> work{};
      for (size_t i = 0; i < N; ++i) work[i] = per_ps[i] * static_cast<double>(ps);
      return work;
    };
    add_to(first, part((uint64_t{first + 1} << shift_) - start_ps));
    for (size_t w = first + 1; w < last; ++w) add_to(w, whole);
    add_to(last, part(end_ps - (uint64_t{last} << shift_)));
  }
  double& cell(size_t w, Column c) { return cells(w)[c]; }
  // Window `w`'s cells, one per column.
  double* cells(size_t w) {
    Chunk& chunk = chunks_[w / kChunk];
    if (chunk.empty()) hold(chunk);
    return chunk.data() + w % kChunk * columns_;
  }
  // Halves the resolution: windows 2i and 2i + 1 become window i.
  void merge() {
    std::vector<Chunk> merged((windows_ + 1) / 2 / kChunk + 1);
    for (size_t k = 0; k < chunks_.size(); ++k) {
      if (chunks_[k].empty()) continue;
      for (size_t i = 0; i < kChunk; ++i) {
        const size_t to = (k * kChunk + i) / 2;
        Chunk& out = merged[to / kChunk];
        if (out.empty()) hold(out);
        for (Column c = 0; c < columns_; ++c) {
          out[to % kChunk * columns_ + c] += chunks_[k][i * columns_ + c];
        }
      }
    }
    windows_ = (windows_ + 1) / 2;
    merged.resize(ceil_div(windows_, kChunk));
    chunks_ = std::move(merged);
    ++shift_;
  }

  // Windows in chunks of kChunk, each [window][column], empty until written.
  static constexpr size_t kChunk = 64;
  using Chunk = std::vector<double>;
  // A chunk's first work: its windows, zero (out of line, as grow()).
  [[gnu::noinline]] void hold(Chunk& chunk) const { chunk.assign(kChunk * columns_, 0.0); }
  std::vector<Registered> resources_;
  std::vector<Chunk> chunks_;
  size_t windows_ = 0;
  Column columns_ = 0;
  unsigned shift_ = kFirstShift;
};

}  // namespace npusim

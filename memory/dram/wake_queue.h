// When each DRAM channel next wants to be stepped: an indexed binary min-heap
// over channels, so that moving a channel's wake-up earlier or later costs
// O(log channels) and leaves no stale entries behind.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace npusim::memory::dram {

class WakeQueue {
 public:
  static constexpr uint64_t kNone = UINT64_MAX;

  explicit WakeQueue(uint32_t channels) : clock_(channels, kNone), pos_(channels, kAbsent) {}

  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] uint64_t top_clock() const { return heap_.empty() ? kNone : clock_[heap_[0]]; }
  [[nodiscard]] uint32_t top() const { return heap_[0]; }
  [[nodiscard]] uint64_t clock(uint32_t channel) const { return clock_[channel]; }

  // Sets `channel`'s wake-up to `clock` (kNone removes it).
  void set(uint32_t channel, uint64_t clock) {
    const uint64_t old = clock_[channel];
    clock_[channel] = clock;
    if (pos_[channel] == kAbsent) {
      if (clock == kNone) return;
      pos_[channel] = static_cast<uint32_t>(heap_.size());
      heap_.push_back(channel);
      up(pos_[channel]);
    } else if (clock == kNone) {
      remove(channel);
    } else if (clock < old) {
      up(pos_[channel]);
    } else {
      down(pos_[channel]);
    }
  }

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  void swap(uint32_t a, uint32_t b) {
    std::swap(heap_[a], heap_[b]);
    pos_[heap_[a]] = a;
    pos_[heap_[b]] = b;
  }
  void up(uint32_t i) {
    while (i > 0) {
      const uint32_t parent = (i - 1) / 2;
      if (clock_[heap_[parent]] <= clock_[heap_[i]]) break;
      swap(i, parent);
      i = parent;
    }
  }
  void down(uint32_t i) {
    const auto n = static_cast<uint32_t>(heap_.size());
    for (;;) {
      const uint32_t l = 2 * i + 1, r = l + 1;
      uint32_t m = i;
      if (l < n && clock_[heap_[l]] < clock_[heap_[m]]) m = l;
      if (r < n && clock_[heap_[r]] < clock_[heap_[m]]) m = r;
      if (m == i) return;
      swap(i, m);
      i = m;
    }
  }
  void remove(uint32_t channel) {
    const uint32_t i = pos_[channel];
    const auto last = static_cast<uint32_t>(heap_.size() - 1);
    if (i != last) {
      swap(i, last);
      heap_.pop_back();
      pos_[channel] = kAbsent;
      up(i);
      down(i);
    } else {
      heap_.pop_back();
      pos_[channel] = kAbsent;
    }
  }

  std::vector<uint64_t> clock_;  // per channel
  std::vector<uint32_t> pos_;    // per channel: index in heap_
  std::vector<uint32_t> heap_;   // channels
};

}  // namespace npusim::memory::dram

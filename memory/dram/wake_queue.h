// When each DRAM channel next wants to be stepped: a timing wheel. Almost
// every wake-up a controller asks for lies within a few hundred clocks (the
// next column slot, tRCD, the end of a row batch), so the wheel keeps one
// bucket of channels per clock for the next kWindow clocks, with a bitmap of
// the non-empty ones, and a heap only for the rare wake-ups beyond. Moving a
// channel's wake-up adds an entry and leaves the old one behind; an entry is
// live while its clock is still its channel's wake-up, and stale ones are
// dropped when they reach the end of their bucket. Setting and taking a wake-up cost O(1)
// (an indexed binary heap cost O(log channels) with a mispredicted branch per
// level, which was a quarter of a decode run).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

namespace npusim::memory::dram {

class WakeQueue {
 public:
  static constexpr uint64_t kNone = UINT64_MAX;

  explicit WakeQueue(uint32_t channels) : clock_(channels, kNone) {}

  [[nodiscard]] uint64_t clock(uint32_t channel) const { return clock_[channel]; }

  // Sets `channel`'s wake-up to `clock` (kNone removes it). A clock before
  // the last one taken counts as that one: it is already due.
  void set(uint32_t channel, uint64_t clock) {
    if (clock != kNone && clock < cursor_) clock = cursor_;
    clock_[channel] = clock;
    if (clock == kNone) return;
    if (clock - cursor_ < kWindow) {
      const size_t b = clock & kMask;
      buckets_[b].push_back(channel);
      bits_[b / 64] |= uint64_t{1} << (b % 64);
    } else {
      far_.emplace(clock, channel);
    }
  }

  // The earliest wake-up, kNone when no channel has one. Drops the stale
  // entries it passes.
  [[nodiscard]] uint64_t top_clock() {
    const size_t start = cursor_ & kMask;
    for (size_t scanned = 0; scanned < kWindow;) {
      const size_t b = (start + scanned) & kMask;
      const uint64_t word = bits_[b / 64] >> (b % 64);
      if (word == 0) {
        scanned += 64 - b % 64;
        continue;
      }
      const size_t skip = static_cast<size_t>(__builtin_ctzll(word));
      scanned += skip;
      if (scanned >= kWindow) break;
      const size_t at = b + skip;
      const uint64_t t = cursor_ + scanned;
      auto& bucket = buckets_[at];
      while (!bucket.empty() && clock_[bucket.back()] != t) bucket.pop_back();
      if (!bucket.empty()) return t;  // take() pops that live entry
      bits_[at / 64] &= ~(uint64_t{1} << (at % 64));
      ++scanned;
    }
    while (!far_.empty() && clock_[far_.top().second] != far_.top().first) far_.pop();
    return far_.empty() ? kNone : far_.top().first;
  }

  // Takes a channel whose wake-up is `clock`, the value top_clock() just
  // returned (which left a live entry last in its bucket), and clears that
  // channel's wake-up.
  uint32_t take(uint64_t clock) {
    advance(clock);
    const size_t b = clock & kMask;
    auto& bucket = buckets_[b];
    const uint32_t channel = bucket.back();
    bucket.pop_back();
    if (bucket.empty()) bits_[b / 64] &= ~(uint64_t{1} << (b % 64));
    clock_[channel] = kNone;
    return channel;
  }

 private:
  static constexpr uint64_t kWindow = 1024;  // clocks the buckets cover (small: they stay in cache)
  static constexpr uint64_t kMask = kWindow - 1;

  // Moves the window to start at `clock` (every live entry is at or after
  // it) and brings far wake-ups that now fall inside it into their buckets.
  void advance(uint64_t clock) {
    if (clock == cursor_) return;
    cursor_ = clock;
    while (!far_.empty() && far_.top().first - cursor_ < kWindow) {
      const auto [t, channel] = far_.top();
      far_.pop();
      if (clock_[channel] == t) {
        const size_t b = t & kMask;
        buckets_[b].push_back(channel);
        bits_[b / 64] |= uint64_t{1} << (b % 64);
      }
    }
  }

  using Entry = std::pair<uint64_t, uint32_t>;  // clock, channel
  std::vector<uint64_t> clock_;                 // per channel: its wake-up
  uint64_t cursor_ = 0;                         // buckets cover [cursor_, cursor_ + kWindow)
  std::array<std::vector<uint32_t>, kWindow> buckets_{};
  std::array<uint64_t, kWindow / 64> bits_{};  // non-empty buckets
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> far_;
};

}  // namespace npusim::memory::dram

// A monotone priority queue (radix heap) for event times: it pops in key
// order, equal keys in the order they were pushed, provided no key pushed is
// below the last key popped (a simulation never schedules into its past).
// Pushing is O(1) and popping amortised O(log key range) without the
// unpredictable comparisons of a binary heap: an entry moves only to lower
// buckets, each bucket holding the keys whose highest bit differing from the
// last key popped is the same.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace npusim {

template <typename T>
class RadixHeap {
 public:
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] size_t size() const { return size_; }

  void push(uint64_t key, const T& value) {
    if (key < last_) throw std::logic_error("radix heap: key below the last one popped");
    buckets_[bucket(key)].push_back({key, value});
    ++size_;
    if (top_ != kUnknown) top_ = std::min(top_, key);
  }

  // The smallest key; the queue must not be empty. Looking does not move
  // the queue on: keys from the last one popped on may still be pushed.
  [[nodiscard]] uint64_t top_key() {
    if (head_ < buckets_[0].size()) return last_;
    if (top_ == kUnknown) {
      size_t i = 1;
      while (buckets_[i].empty()) ++i;
      for (const Entry& e : buckets_[i]) top_ = std::min(top_, e.key);
    }
    return top_;
  }

  // Removes and returns the first-pushed value with the smallest key.
  T pop() {
    refill();
    auto& now = buckets_[0];
    T value = now[head_].value;
    if (++head_ == now.size()) {
      now.clear();
      head_ = 0;
    }
    --size_;
    top_ = kUnknown;
    return value;
  }

 private:
  struct Entry {
    uint64_t key;
    T value;
  };

  [[nodiscard]] size_t bucket(uint64_t key) const {
    return key == last_ ? 0 : static_cast<size_t>(64 - __builtin_clzll(key ^ last_));
  }

  // Makes bucket 0 hold the smallest key's entries, in push order (only when
  // popping: last_ must not pass a key that may still be pushed).
  void refill() {
    if (head_ < buckets_[0].size()) return;
    size_t i = 1;
    while (buckets_[i].empty()) ++i;  // the caller checked the queue is not empty
    auto& from = buckets_[i];
    // (top_key() has most often just found it.)
    last_ = top_ != kUnknown
                ? top_
                : std::min_element(from.begin(), from.end(), [](const Entry& a, const Entry& b) {
                    return a.key < b.key;
                  })->key;
    // In push order: every bucket below `from` is empty now, so each one
    // gets this one batch, in from's order (push order by induction), and
    // only later pushes after it.
    for (const Entry& e : from) buckets_[bucket(e.key)].push_back(e);
    from.clear();
  }

  static constexpr uint64_t kUnknown = UINT64_MAX;

  std::array<std::vector<Entry>, 65> buckets_;
  size_t head_ = 0;          // next entry of bucket 0
  uint64_t last_ = 0;        // the key popped last: bucket 0's, the others' reference
  uint64_t top_ = kUnknown;  // the smallest key outside bucket 0, when known
  size_t size_ = 0;
};

}  // namespace npusim

// Records addressed by a small integer id that is reused once released: the
// in-flight requests of a memory model, whose ids travel through controller
// queues and callbacks instead of pointers (which a growing vector moves).
#pragma once

#include <cstdint>
#include <vector>

namespace npusim {

template <typename T>
class SlotPool {
 public:
  // A free id, its record default-initialised.
  uint32_t take() {
    if (free_.empty()) {
      items_.emplace_back();
      return static_cast<uint32_t>(items_.size() - 1);
    }
    const uint32_t id = free_.back();
    free_.pop_back();
    items_[id] = T{};
    return id;
  }
  void release(uint32_t id) { free_.push_back(id); }
  T& operator[](uint32_t id) { return items_[id]; }
  const T& operator[](uint32_t id) const { return items_[id]; }

 private:
  std::vector<T> items_;
  std::vector<uint32_t> free_;
};

}  // namespace npusim

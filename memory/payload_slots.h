// An initiator's payloads for its requests in flight, each carrying what its
// response needs: a slot is its payload (`Slot` derives from
// tlm_generic_payload) and the slots are one array, so a response finds its
// slot from the payload by a range check, with no extension lookup through
// the SystemC library and one allocation to touch.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <tlm>
#include <type_traits>

namespace npusim::memory {

template <typename Slot>
class PayloadSlots {
  static_assert(std::is_base_of_v<tlm::tlm_generic_payload, Slot>);

 public:
  explicit PayloadSlots(size_t count = 0)
      : slots_(std::make_unique<Slot[]>(count)), count_(count) {}

  [[nodiscard]] size_t size() const { return count_; }
  [[nodiscard]] Slot& operator[](size_t i) { return slots_[i]; }
  // The slot `trans` is, nullptr when it is none of these.
  [[nodiscard]] Slot* of(tlm::tlm_generic_payload& trans) {
    const std::less<const void*> before;
    if (before(&trans, slots_.get()) || !before(&trans, slots_.get() + count_)) return nullptr;
    return static_cast<Slot*>(&trans);
  }

 private:
  std::unique_ptr<Slot[]> slots_;
  size_t count_;
};

}  // namespace npusim::memory

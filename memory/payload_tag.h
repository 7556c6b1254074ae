// A TLM-2.0 extension that carries one value with a payload, so that a
// module that does not own the payload finds its own state for a
// transaction again on the way back (the core crossbar, the core a request
// came from) without a lookup; an initiator keeps its state in the payload
// itself (memory/payload_slots.h). `Owner` keeps the tags of different
// modules apart (each type is its own extension ID).
// Owned by the payload, which frees it: set once on a payload that is reused
// request after request, it costs no allocation per request.
#pragma once

#include <tlm>

namespace npusim::memory {

template <typename Owner, typename Value>
struct PayloadTag : tlm::tlm_extension<PayloadTag<Owner, Value>> {
  Value value{};

  [[nodiscard]] tlm::tlm_extension_base* clone() const override { return new PayloadTag(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    value = static_cast<const PayloadTag&>(other).value;
  }

  // Sets `trans`'s tag to `v`, adding the tag the first time.
  static void set(tlm::tlm_generic_payload& trans, const Value& v) {
    auto* tag = trans.get_extension<PayloadTag>();
    if (tag == nullptr) {
      tag = new PayloadTag;
      trans.set_extension(tag);
    }
    tag->value = v;
  }
  // `trans`'s tag, nullptr when it has none.
  [[nodiscard]] static const PayloadTag* of(const tlm::tlm_generic_payload& trans) {
    return trans.get_extension<PayloadTag>();
  }
};

}  // namespace npusim::memory

// Address mapping: which bits of a byte address select the stack, channel,
// bank group, bank, row and column. The mapping is a list of fields, most
// significant first (e.g. "ro ba co:3 bg st ch co:2"); an address is decoded
// from the least significant end as mixed-radix digits, so the stack count
// need not be a power of two. The burst offset is always the lowest digits.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "memory/dram/spec.h"

namespace npusim::memory::dram {

struct DramAddress {
  uint32_t channel = 0;  // global: stack * channels + channel
  uint32_t bank = 0;     // flat: bank_group * banks_per_group + bank
  uint32_t bank_group = 0;
  uint32_t row = 0;
  uint32_t column = 0;  // burst index within the row
};

class AddressMapping {
 public:
  // UserError naming `where`/`field` unless every field is fully covered.
  AddressMapping(const DramSpec& spec, const std::string& where, const std::string& field);

  [[nodiscard]] DramAddress decode(uint64_t address) const;
  // The byte address of the first byte of burst `a` (decode's inverse).
  [[nodiscard]] uint64_t encode(const DramAddress& a) const;

  // Every digit but the stack's takes at least one bit of an address of
  // at most 64.
  static constexpr size_t kMaxDigits = 65;
  // Walks consecutive bursts from an address, updating the decoded fields
  // like an odometer instead of decoding every burst.
  class Cursor {
   public:
    Cursor(const AddressMapping& mapping, uint64_t address);
    // (Inline: per row of a transfer.)
    [[nodiscard]] DramAddress address() const { return m_.compose(field_); }
    void next() { advance(1); }     // the following burst
    void advance(uint64_t bursts);  // `bursts` bursts on
    // One aligned row block on, from the start of one (row_block() bursts:
    // the carry into the digit above the block; inline, per row of a
    // transfer).
    void next_block() {
      for (size_t i = m_.block_digits_; i < m_.digits_.size(); ++i) {
        const Digit& d = m_.digits_[i];
        const uint64_t old = digit_[i];
        const uint64_t value = old + 1 == d.radix ? 0 : old + 1;
        field_[d.field] = field_[d.field] - (old << d.shift) + (value << d.shift);
        digit_[i] = value;
        if (value != 0) return;
      }
    }

   private:
    const AddressMapping& m_;
    // Value of each digit, least significant first (not a vector: a cursor
    // is made per request).
    std::array<uint64_t, kMaxDigits> digit_;
    std::array<uint64_t, 6> field_{};
  };
  // Bursts in a row of the address space that share channel, bank and row
  // (consecutive columns): the mapping's lowest column digits, 1 when a
  // channel or bank digit is lowest. Aligned runs of this many bursts decode
  // once.
  [[nodiscard]] uint64_t column_run() const { return column_run_; }
  // Bursts in the smallest aligned block of the address space that holds
  // whole rows: every digit up to the most significant column digit. An
  // aligned block holds row_block() / columns rows, each entirely.
  [[nodiscard]] uint64_t row_block() const { return row_block_; }
  // Where row `r` (0 .. rows in a block) of an aligned block starts, in
  // bursts from the block's start; rows are numbered in address order.
  [[nodiscard]] uint64_t row_in_block(uint64_t r) const;
  // Bytes the mapping addresses (= the devices' capacity).
  [[nodiscard]] uint64_t capacity_bytes() const { return capacity_; }

 private:
  enum Field : uint8_t { Row, Bank, Group, Column, Channel, Stack, kFields };
  struct Digit {
    Field field;
    uint64_t radix;  // values this digit takes
    uint32_t shift;  // bits of the field below this digit
    uint32_t bits;   // log2(radix) when radix is a power of two, else 0
  };
  std::vector<Digit> digits_;  // least significant first
  uint64_t burst_bytes_;
  int burst_shift_ = -1;  // log2(burst_bytes_) when a power of two
  uint32_t channels_per_stack_;
  uint32_t banks_per_group_;
  uint32_t channels_ = 1;      // all stacks'
  uint32_t banks_ = 1;         // per channel
  bool channel_hash_ = false;  // DramSpec::channel_hash
  [[nodiscard]] DramAddress compose(const std::array<uint64_t, kFields>& v) const {
    DramAddress a;
    a.channel = static_cast<uint32_t>(v[Stack] * channels_per_stack_ + v[Channel]);
    a.bank_group = static_cast<uint32_t>(v[Group]);
    a.bank = static_cast<uint32_t>(v[Group] * banks_per_group_ + v[Bank]);
    a.row = static_cast<uint32_t>(v[Row]);
    a.column = static_cast<uint32_t>(v[Column]);
    if (channel_hash_) {
      a.channel =
          static_cast<uint32_t>((a.channel + a.bank + uint64_t{banks_} * a.row) % channels_);
    }
    return a;
  }
  uint64_t capacity_;
  uint64_t column_run_ = 1;
  uint64_t row_block_ = 1;
  size_t block_digits_ = 0;  // the digits inside a row block (the lowest)
  struct Place {
    uint64_t radix;
    uint64_t weight;  // bursts one step of this digit moves
  };
  std::vector<Place> row_digits_;  // the non-column digits inside a row block
};

}  // namespace npusim::memory::dram

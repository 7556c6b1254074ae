#include "memory/dram/address_mapping.h"

#include <fmt/format.h>

#include <array>
#include <sstream>
#include <stdexcept>

#include "common/error.h"

namespace npusim::memory::dram {
namespace {
uint32_t log2_exact(uint64_t v) {
  uint32_t b = 0;
  while ((uint64_t{1} << b) < v) ++b;
  return b;
}
}  // namespace

AddressMapping::AddressMapping(const DramSpec& s, const std::string& where,
                               const std::string& field)
    : burst_bytes_(s.burst_bytes()),
      channels_per_stack_(s.channels),
      banks_per_group_(s.banks_per_group),
      channels_(s.total_channels()),
      banks_(s.banks()),
      channel_hash_(s.channel_hash),
      capacity_(s.capacity_bytes()) {
  if (burst_bytes_ > 0 && (burst_bytes_ & (burst_bytes_ - 1)) == 0) {
    burst_shift_ = __builtin_ctzll(burst_bytes_);
  }
  static const std::array<const char*, kFields> names = {"ro", "ba", "bg", "co", "ch", "st"};
  const std::array<uint64_t, kFields> counts = {s.rows,    s.banks_per_group, s.bank_groups,
                                                s.columns, s.channels,        s.stacks};
  struct Token {
    Field field;
    int bits;  // -1: the whole field
  };
  std::vector<Token> tokens;
  std::istringstream in(s.mapping);
  for (std::string word; in >> word;) {
    const auto colon = word.find(':');
    const std::string name = word.substr(0, colon);
    int f = 0;
    while (f < kFields && name != names[f]) ++f;
    require(f < kFields, where, field,
            fmt::format("unknown field '{}' (use ro, ba, bg, co, ch, st)", name));
    int bits = -1;
    if (colon != std::string::npos) {
      try {
        bits = std::stoi(word.substr(colon + 1));
      } catch (const std::exception&) {
        bits = -2;
      }
      require(bits >= 0, where, field, fmt::format("'{}': expected field:bits", word));
      require(f != Stack, where, field, "the stack field cannot be split");
    }
    tokens.push_back({static_cast<Field>(f), bits});
  }
  // Assign digits from the least significant end.
  std::array<uint32_t, kFields> used{};
  std::array<bool, kFields> seen{};
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    const Field f = it->field;
    if (f == Stack) {
      require(!seen[f], where, field, "'st' appears twice");
      // (One stack takes no digit: a radix-1 digit would divide by 1 per decode.)
      if (counts[f] > 1) digits_.push_back({f, counts[f], 0, 0});
      seen[f] = true;
      continue;
    }
    const uint32_t total = log2_exact(counts[f]);
    const uint32_t bits = it->bits < 0 ? total - used[f] : static_cast<uint32_t>(it->bits);
    require(used[f] + bits <= total, where, field,
            fmt::format("'{}' takes more than its {} bits", names[f], total));
    if (bits > 0) digits_.push_back({f, uint64_t{1} << bits, used[f], bits});
    used[f] += bits;
    seen[f] = true;
  }
  if (digits_.size() > kMaxDigits) {
    throw std::logic_error(fmt::format("address mapping: {} digits", digits_.size()));
  }
  for (const Digit& d : digits_) {  // least significant first
    if (d.field != Column) break;
    column_run_ *= d.radix;
  }
  size_t top_column = 0;
  for (size_t i = 0; i < digits_.size(); ++i) {
    if (digits_[i].field == Column) top_column = i;
  }
  for (size_t i = 0; i <= top_column && i < digits_.size(); ++i) {
    if (digits_[i].field != Column) row_digits_.push_back({digits_[i].radix, row_block_});
    row_block_ *= digits_[i].radix;
    block_digits_ = i + 1;
  }
  for (int f = 0; f < kFields; ++f) {
    if (f == Stack) {
      require(seen[f] || counts[f] == 1, where, field,
              fmt::format("'st' is missing and there are {} stacks", counts[f]));
      continue;
    }
    require(used[f] == log2_exact(counts[f]), where, field,
            fmt::format("'{}' covers {} of its {} bits: the mapping does not cover the capacity",
                        names[f], used[f], log2_exact(counts[f])));
  }
}

AddressMapping::Cursor::Cursor(const AddressMapping& m, uint64_t address) : m_(m) {
  uint64_t x = m.burst_shift_ >= 0 ? address >> m.burst_shift_ : address / m.burst_bytes_;
  for (size_t i = 0; i < m.digits_.size(); ++i) {
    const Digit& d = m.digits_[i];
    digit_[i] = d.bits > 0 ? x & (d.radix - 1) : x % d.radix;
    x = d.bits > 0 ? x >> d.bits : x / d.radix;
    field_[d.field] |= digit_[i] << d.shift;
  }
}

void AddressMapping::Cursor::advance(uint64_t bursts) {
  // Mixed-radix addition, carrying into the higher digits.
  for (size_t i = 0; i < m_.digits_.size() && bursts > 0; ++i) {
    const Digit& d = m_.digits_[i];
    const uint64_t sum = digit_[i] + bursts;
    const uint64_t value = d.bits > 0 ? sum & (d.radix - 1) : sum % d.radix;
    field_[d.field] = field_[d.field] - (digit_[i] << d.shift) + (value << d.shift);
    digit_[i] = value;
    bursts = d.bits > 0 ? sum >> d.bits : sum / d.radix;
  }
}

uint64_t AddressMapping::row_in_block(uint64_t r) const {
  uint64_t at = 0;
  for (const Place& p : row_digits_) {  // r's mixed-radix digits, least significant first
    at += (r % p.radix) * p.weight;
    r /= p.radix;
  }
  return at;
}

DramAddress AddressMapping::decode(uint64_t address) const {
  uint64_t x = burst_shift_ >= 0 ? address >> burst_shift_ : address / burst_bytes_;
  std::array<uint64_t, kFields> v{};
  for (const Digit& d : digits_) {
    if (d.bits > 0) {  // a power of two: mask and shift
      v[d.field] |= (x & (d.radix - 1)) << d.shift;
      x >>= d.bits;
    } else {
      v[d.field] |= (x % d.radix) << d.shift;
      x /= d.radix;
    }
  }
  return compose(v);
}

uint64_t AddressMapping::encode(const DramAddress& a) const {
  uint64_t channel = a.channel;
  if (channel_hash_) {  // compose() adds bank + banks x row to the channel
    const uint64_t shift = (a.bank + uint64_t{banks_} * a.row) % channels_;
    channel = (channel + channels_ - shift) % channels_;
  }
  std::array<uint64_t, kFields> v{};
  v[Stack] = channel / channels_per_stack_;
  v[Channel] = channel % channels_per_stack_;
  v[Group] = a.bank / banks_per_group_;
  v[Bank] = a.bank % banks_per_group_;
  v[Row] = a.row;
  v[Column] = a.column;
  uint64_t x = 0;
  for (auto d = digits_.rbegin(); d != digits_.rend(); ++d) {  // most significant first
    x = x * d->radix + (v[d->field] >> d->shift) % d->radix;
  }
  return x * burst_bytes_;
}

}  // namespace npusim::memory::dram

#include "compiler/passes/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <unordered_map>

#include "common/address_space.h"
#include "common/checked.h"
#include "common/error.h"
#include "common/integer.h"

namespace npusim::compiler {
namespace {

PlaceClass class_of(const Tensor& t) {
  if (t.expert()) return PlaceClass::Experts;
  switch (t.tensor_class()) {
    case KV_CACHE:
      return PlaceClass::KvCache;
    case ACTIVATION:
      return PlaceClass::Activations;
    default:
      return PlaceClass::Weights;
  }
}

bool matches(const PlacementRule& r, const Tensor& t) {
  const PlaceClass c = class_of(t);
  const bool by_class =
      r.classes.empty() || std::any_of(r.classes.begin(), r.classes.end(), [c](PlaceClass k) {
        return k == c || (k == PlaceClass::Weights && c == PlaceClass::Experts);
      });
  if (!by_class) return false;
  if (!r.first_layer && !r.last_layer) return true;
  if (!t.has_layer()) return false;
  return t.layer() >= r.first_layer.value_or(0) && t.layer() <= r.last_layer.value_or(UINT32_MAX);
}

// 3.25 GiB, 640 KiB, 12 B.
std::string human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.3g} {}", v, units[u]);
}

class Allocator {
 public:
  Allocator(const PlacementOptions& o, std::vector<PlacementMemory> memories)
      : o_(o), memories_(std::move(memories)), next_(memories_.size(), 0) {}

  // The address of `bytes` in memory `m`, or none if it has no room left.
  // `alignment` 0: the options'.
  std::optional<uint64_t> take(uint32_t m, uint64_t bytes, const std::string& tensor,
                               uint64_t alignment = 0) {
    const uint64_t align = alignment != 0 ? alignment : o_.alignment;
    const std::optional<uint64_t> padded = checked_add(next_[m], align - 1);
    if (!padded || !checked_add(*padded, bytes)) {
      throw UserError(fmt::format("{}: the model needs more than 2^64 bytes (at tensor '{}')",
                                  memories_[m].capacity_field, tensor));
    }
    const uint64_t at = aligned(next_[m], align);
    const uint64_t cap = memories_[m].capacity_bytes;
    if (cap != 0 && (at > cap || bytes > cap - at)) return std::nullopt;
    next_[m] = at + bytes;
    return at;
  }
  [[nodiscard]] uint64_t used(uint32_t m) const { return next_[m]; }
  // `at` rounded up to `alignment` (0: the default one).
  [[nodiscard]] uint64_t aligned(uint64_t at, uint64_t alignment) const {
    const uint64_t align = alignment != 0 ? alignment : o_.alignment;
    return round_up(at, align);
  }
  [[nodiscard]] const PlacementMemory& memory(uint32_t m) const { return memories_[m]; }

 private:
  const PlacementOptions& o_;
  std::vector<PlacementMemory> memories_;
  std::vector<uint64_t> next_;
};

// What a tensor takes: its bytes, or its PIM region's (placed_bytes).
uint64_t footprint(const Tensor& t) {
  return std::max(t.size_bytes(), t.placed_bytes());
}

// The error for tensors that fit in none of the memories they may go to.
[[noreturn]] void does_not_fit(const Allocator& a, const std::vector<const Tensor*>& left,
                               const std::vector<uint32_t>& tried, const std::string& rule) {
  uint64_t bytes = 0;
  for (const Tensor* t : left) bytes += footprint(*t);
  std::vector<std::string> where;
  for (uint32_t m : tried) {
    const auto& mem = a.memory(m);
    where.push_back(
        fmt::format("{} ({} of {} used)", mem.name, human(a.used(m)), human(mem.capacity_bytes)));
  }
  const Tensor& first = *left.front();
  throw UserError(fmt::format(
      "{}: {} tensor(s), {} bytes ({}), fit in none of {}; the first is '{}' ({}, {} bytes){}. "
      "Give the memories more capacity, or place the tensors elsewhere (placement.rules)",
      a.memory(tried.back()).capacity_field, left.size(), bytes, human(bytes),
      fmt::join(where, ", "), first.name(), place_class_name(class_of(first)), footprint(first),
      rule.empty() ? "" : " (by " + rule + ")"));
}

}  // namespace

const char* place_class_name(PlaceClass c) {
  switch (c) {
    case PlaceClass::Weights:
      return "weights";
    case PlaceClass::KvCache:
      return "KV cache";
    case PlaceClass::Activations:
      return "activations";
    case PlaceClass::Experts:
      return "experts";
  }
  return "?";
}

std::vector<uint64_t> place_in_memories(Graph& graph, const PlacementOptions& options) {
  std::vector<PlacementMemory> memories = options.memories;
  if (memories.empty())
    memories.push_back({"memory", options.capacity_bytes, options.capacity_field});
  // A core's part of each memory, from `offset` on.
  std::vector<uint64_t> offset(memories.size(), 0);
  if (options.partitions > 1) {
    for (size_t m = 0; m < memories.size(); ++m) {
      PlacementMemory& mem = memories[m];
      const uint64_t part = (mem.capacity_bytes > 0 ? mem.capacity_bytes : uint64_t{1} << 50) /
                            options.partitions / options.alignment * options.alignment;
      offset[m] = options.partition * part;
      if (mem.capacity_bytes > 0) mem.capacity_bytes = part;
      mem.capacity_field += fmt::format(" (a core's 1/{} of it)", options.partitions);
    }
  }
  Allocator alloc(options, memories);
  const bool single = memories.size() == 1;
  const bool named = !options.memories.empty();  // else one memory, unnamed

  // Which rule places each tensor (-1: none, the memories in order; -2:
  // pinned to a memory, placed first).
  constexpr int kPinned = -2;
  std::vector<int> rule_of(static_cast<size_t>(graph.tensors_size()), -1);
  for (int i = 0; i < graph.tensors_size(); ++i) {
    const Tensor& t = graph.tensors(i);
    if (t.has_pin_memory() && t.alias_of().empty()) {
      // (Set by the PIM offload; a graph read from a file may hold any.)
      require(t.pin_memory() < memories.size(), options.graph_where,
              "tensor '" + t.name() + "'.pin_memory",
              fmt::format("{} names no memory: the system has {} (numbered from 0)", t.pin_memory(),
                          memories.size()));
      rule_of[static_cast<size_t>(i)] = kPinned;
      continue;
    }
    for (size_t r = 0; r < options.rules.size() && t.alias_of().empty(); ++r) {
      if (matches(options.rules[r], t)) {
        rule_of[static_cast<size_t>(i)] = static_cast<int>(r);
        break;
      }
    }
  }
  std::vector<uint32_t> in_order(memories.size());
  for (uint32_t m = 0; m < in_order.size(); ++m) in_order[m] = m;

  // The memories a tensor may go to, nearest first.
  std::vector<uint32_t> pinned(1);
  auto targets_of = [&](const Tensor& t, int rule) -> const std::vector<uint32_t>& {
    if (rule == kPinned) {
      pinned[0] = t.pin_memory();
      return pinned;
    }
    return rule < 0 ? in_order : options.rules[static_cast<size_t>(rule)].memories;
  };
  auto place_group = [&](int rule) {
    std::vector<const Tensor*> left;
    for (int i = 0; i < graph.tensors_size(); ++i) {
      Tensor& t = *graph.mutable_tensors(i);
      if (rule_of[static_cast<size_t>(i)] != rule || !t.alias_of().empty()) continue;
      bool done = false;
      for (uint32_t m : targets_of(t, rule)) {
        if (const auto at = alloc.take(m, footprint(t), t.name(), t.alignment())) {
          t.set_address(memory_base(m) + offset[m] + *at);
          if (named) t.set_memory(memories[m].name);
          done = true;
          break;
        }
      }
      if (!done) left.push_back(&t);
    }
    if (left.empty()) return;
    if (single && options.rules.empty()) {
      // One memory: say how much the whole model needs.
      uint64_t need = alloc.used(0);
      for (const Tensor* t : left) need = alloc.aligned(need, t->alignment()) + footprint(*t);
      const uint64_t cap = memories[0].capacity_bytes;
      throw UserError(fmt::format(
          "{}: the model needs {} bytes ({:.2f} GiB) but the memory holds {} ({:.2f} GiB): "
          "{} bytes too many",
          memories[0].capacity_field, need, need / 1073741824.0, cap, cap / 1073741824.0,
          need - cap));
    }
    does_not_fit(alloc, left, targets_of(*left.front(), rule),
                 rule == kPinned ? "the PIM offload (--pim)"
                 : rule < 0      ? ""
                                 : options.rules[static_cast<size_t>(rule)].where);
  };
  place_group(kPinned);
  for (size_t r = 0; r < options.rules.size(); ++r) place_group(static_cast<int>(r));
  place_group(-1);

  // Views take their base tensor's place.
  std::unordered_map<std::string, const Tensor*> by_name;
  for (auto& t : *graph.mutable_tensors()) {
    if (!t.alias_of().empty()) {
      auto it = by_name.find(t.alias_of());
      require(it != by_name.end(), "graph", "tensor '" + t.name() + "'.alias_of",
              "'" + t.alias_of() + "' must be an earlier tensor");
      t.set_address(it->second->address());
      t.set_memory(it->second->memory());
    }
    by_name[t.name()] = &t;
  }
  std::vector<uint64_t> used(memories.size());
  for (uint32_t m = 0; m < used.size(); ++m) used[m] = alloc.used(m);
  return used;
}

uint64_t place(Graph& graph, const PlacementOptions& options) {
  return place_in_memories(graph, options).front();
}

}  // namespace npusim::compiler

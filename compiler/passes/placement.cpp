#include "compiler/passes/placement.h"

#include <fmt/format.h>

#include <optional>
#include <unordered_map>

#include "common/checked.h"
#include "common/error.h"

namespace npusim::compiler {

uint64_t place(Graph& graph, const PlacementOptions& options) {
  uint64_t next = 0;
  std::unordered_map<std::string, uint64_t> placed;
  for (auto& t : *graph.mutable_tensors()) {
    if (!t.alias_of().empty()) {  // a view of an earlier tensor
      auto it = placed.find(t.alias_of());
      require(it != placed.end(), "graph", "tensor '" + t.name() + "'.alias_of",
              "'" + t.alias_of() + "' must be an earlier tensor");
      t.set_address(it->second);
      placed[t.name()] = it->second;
      continue;
    }
    const std::optional<uint64_t> padded = checked_add(next, options.alignment - 1);
    if (!padded || !checked_add(*padded, t.size_bytes())) {
      throw UserError(fmt::format("{}: the model needs more than 2^64 bytes (at tensor '{}')",
                                  options.capacity_field, t.name()));
    }
    next = (next + options.alignment - 1) / options.alignment * options.alignment;
    t.set_address(next);
    placed[t.name()] = next;
    next += t.size_bytes();
  }
  if (options.capacity_bytes != 0 && next > options.capacity_bytes) {
    throw UserError(fmt::format(
        "{}: the model needs {} bytes ({:.2f} GiB) but the memory holds {} ({:.2f} GiB): "
        "{} bytes too many",
        options.capacity_field, next, next / 1073741824.0, options.capacity_bytes,
        options.capacity_bytes / 1073741824.0, next - options.capacity_bytes));
  }
  return next;
}

}  // namespace npusim::compiler

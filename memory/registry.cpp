#include "memory/registry.h"

#include <fmt/format.h>
#include <map>

#include "common/error.h"

namespace npusim::memory {
namespace {
std::map<std::string, MemoryModelEntry>& table() {
  static std::map<std::string, MemoryModelEntry> entries;
  return entries;
}
}  // namespace

bool MemoryRegistry::add(const std::string& name, MemoryModelEntry entry) {
  return table().emplace(name, std::move(entry)).second;
}

std::vector<std::string> MemoryRegistry::names() {
  std::vector<std::string> out;
  for (const auto& [name, entry] : table()) out.push_back(name);
  return out;
}

const MemoryModelEntry& MemoryRegistry::lookup(const MemoryConfig& config, const std::string& where,
                                               const std::string& path) {
  const auto* oneof = MemoryConfig::descriptor()->FindOneofByName("model");
  const auto* field = config.GetReflection()->GetOneofFieldDescriptor(config, oneof);
  if (field == nullptr) {
    throw UserError(fmt::format("{}: {}: no memory model set; choose one of: {}", where, path,
                                fmt::join(names(), ", ")));
  }
  auto it = table().find(field->name());
  if (it == table().end()) {
    throw UserError(fmt::format("{}: {}.{}: memory model is not built into this npusim", where,
                                path, field->name()));
  }
  return it->second;
}

}  // namespace npusim::memory

// Built-in presets (DRAM parts, PIM parts): text protos embedded in the
// binary by name (dram/embed_presets.cmake). A config names one and
// overrides any of its fields.
#pragma once

#include <fmt/format.h>
#include <google/protobuf/text_format.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"

namespace npusim::memory {

using PresetTexts = std::map<std::string, std::string>;

[[nodiscard]] inline std::vector<std::string> preset_names(const PresetTexts& texts) {
  std::vector<std::string> out;
  for (const auto& [name, text] : texts) out.push_back(name);
  return out;
}

// The preset `config.preset()` names (none: an empty config) with every
// field `config` sets written over it. UserError naming `where`, `path` and
// the presets when there is no such preset; `kind` ("DRAM", "PIM") names
// the table.
template <typename Config>
[[nodiscard]] Config resolve_preset(const PresetTexts& texts, const Config& config,
                                    const char* kind, const std::string& where,
                                    const std::string& path) {
  Config out;
  if (!config.preset().empty()) {
    const auto it = texts.find(config.preset());
    if (it == texts.end()) {
      throw UserError(fmt::format("{}: {}.preset: unknown {} preset '{}'; presets: {}", where, path,
                                  kind, config.preset(), fmt::join(preset_names(texts), ", ")));
    }
    if (!google::protobuf::TextFormat::ParseFromString(it->second, &out)) {
      throw std::logic_error(
          fmt::format("built-in {} preset {} does not parse", kind, config.preset()));
    }
  }
  out.MergeFrom(config);
  return out;
}

}  // namespace npusim::memory

// Hugging Face style config.json -> ModelSpec. Each model family (the
// config's "model_type") is read by a parser in its own file under
// families/, registered with NPUSIM_REGISTER_FAMILY.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/frontends/model_spec.h"

namespace npusim::compiler {

// Reads fields of one config, with errors naming the file and the field.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, std::string where)
      : j_(json), where_(std::move(where)) {}

  // A positive integer field; UserError when missing, not an integer or <= 0.
  [[nodiscard]] uint64_t count(const char* field) const;
  // A positive integer, or `fallback` when the field is absent or null.
  [[nodiscard]] uint64_t count_or(const char* field, uint64_t fallback) const;
  [[nodiscard]] bool flag_or(const char* field, bool fallback) const;
  [[nodiscard]] std::string text_or(const char* field, const std::string& fallback) const;
  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

using FamilyParser = std::function<ModelSpec(const ConfigReader&)>;

class FamilyRegistry {
 public:
  static bool add(const std::string& model_type, FamilyParser parser);
  [[nodiscard]] static const FamilyParser* find(const std::string& model_type);
  [[nodiscard]] static std::vector<std::string> names();
};

// Parses a config.json; UserError naming the file and field on bad input.
[[nodiscard]] ModelSpec load_hf_config(const std::string& path);
[[nodiscard]] ModelSpec parse_hf_config(const std::string& text, const std::string& where);

}  // namespace npusim::compiler

#define NPUSIM_REGISTER_FAMILY(NAME, FN)                               \
  [[maybe_unused]] static const bool npusim_family_registered_##NAME = \
      ::npusim::compiler::FamilyRegistry::add(#NAME, FN)

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

// The ranges a config's fields must be in: what real models use, with
// room to spare, and small enough that every size computed from them fits.
inline constexpr uint64_t kMaxHidden = uint64_t{1} << 20;        // hidden size, widths
inline constexpr uint64_t kMaxLayers = 10000;                    // decoder layers
inline constexpr uint64_t kMaxHeads = uint64_t{1} << 16;         // attention heads
inline constexpr uint64_t kMaxHeadDim = uint64_t{1} << 14;       // one head's width
inline constexpr uint64_t kMaxIntermediate = uint64_t{1} << 24;  // MLP width
inline constexpr uint64_t kMaxVocab = uint64_t{1} << 24;         // vocabulary
inline constexpr uint64_t kMaxPositions = uint64_t{1} << 24;     // learned positions
inline constexpr uint64_t kMaxExperts = 1024;                    // MoE experts per layer

// Reads fields of one config, with errors naming the file and the field.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, std::string where)
      : j_(json), where_(std::move(where)) {}

  // An integer field between `min` and `max`; UserError when missing, not
  // an integer or out of range ("<where>: <field>: must be an integer
  // between 1 and 1048576, not 1e+30").
  [[nodiscard]] uint64_t count(const char* field, uint64_t max, uint64_t min = 1) const;
  // The same, or `fallback` when the field is absent or null.
  [[nodiscard]] uint64_t count_or(const char* field, uint64_t fallback, uint64_t max,
                                  uint64_t min = 1) const;
  // A number between `min` and `max` (both included), or `fallback` when
  // the field is absent or null.
  [[nodiscard]] double real_or(const char* field, double fallback, double min, double max) const;
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

// Parses a config.json; UserError naming the file and field on bad input
// (not JSON, nested deeper than 64 levels, a number past a double's range,
// a field missing, of the wrong type or out of its range).
[[nodiscard]] ModelSpec load_hf_config(const std::string& path);
[[nodiscard]] ModelSpec parse_hf_config(const std::string& text, const std::string& where);

}  // namespace npusim::compiler

#define NPUSIM_REGISTER_FAMILY(NAME, FN)                               \
  [[maybe_unused]] static const bool npusim_family_registered_##NAME = \
      ::npusim::compiler::FamilyRegistry::add(#NAME, FN)

#include "compiler/frontends/hf_config.h"

#include <fmt/format.h>

#include <map>

#include "common/error.h"
#include "common/file.h"

namespace npusim::compiler {

uint64_t ConfigReader::count(const char* field) const {
  auto it = j_.find(field);
  require(it != j_.end() && !it->is_null(), where_, field, "is missing");
  require(it->is_number_integer(), where_, field,
          fmt::format("must be an integer, not {}", it->dump()));
  const auto v = it->get<int64_t>();
  require(v > 0, where_, field, fmt::format("must be > 0, not {}", v));
  return static_cast<uint64_t>(v);
}

uint64_t ConfigReader::count_or(const char* field, uint64_t fallback) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  return count(field);
}

bool ConfigReader::flag_or(const char* field, bool fallback) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  require(it->is_boolean(), where_, field, "must be true or false");
  return it->get<bool>();
}

std::string ConfigReader::text_or(const char* field, const std::string& fallback) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  require(it->is_string(), where_, field, "must be a string");
  return it->get<std::string>();
}

namespace {
std::map<std::string, FamilyParser>& table() {
  static std::map<std::string, FamilyParser> parsers;
  return parsers;
}
}  // namespace

bool FamilyRegistry::add(const std::string& model_type, FamilyParser parser) {
  return table().emplace(model_type, std::move(parser)).second;
}

const FamilyParser* FamilyRegistry::find(const std::string& model_type) {
  auto it = table().find(model_type);
  return it == table().end() ? nullptr : &it->second;
}

std::vector<std::string> FamilyRegistry::names() {
  std::vector<std::string> out;
  for (const auto& [name, parser] : table()) out.push_back(name);
  return out;
}

ModelSpec parse_hf_config(const std::string& text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(fmt::format("{}: not valid JSON: {}", where, e.what()));
  }
  require(j.is_object(), where, "(top level)", "must be a JSON object");
  const ConfigReader r(j, where);
  const std::string type = r.text_or("model_type", "");
  require(!type.empty(), where, "model_type", "is missing");
  const FamilyParser* parser = FamilyRegistry::find(type);
  if (parser == nullptr) {
    throw UserError(fmt::format("{}: model_type: unknown model family '{}'; supported: {}", where,
                                type, fmt::join(FamilyRegistry::names(), ", ")));
  }
  ModelSpec spec = (*parser)(r);
  spec.family = type;
  require(spec.heads % spec.kv_heads == 0, where, "num_key_value_heads",
          fmt::format("{} must divide the {} attention heads", spec.kv_heads, spec.heads));
  if (spec.head_dim == 0) {
    require(spec.hidden % spec.heads == 0, where, "num_attention_heads",
            fmt::format("{} must divide the hidden size {}", spec.heads, spec.hidden));
    spec.head_dim = spec.hidden / spec.heads;
  }
  return spec;
}

ModelSpec load_hf_config(const std::string& path) {
  ModelSpec spec = parse_hf_config(read_file(path), path);
  if (spec.name.empty()) {
    const auto slash = path.find_last_of('/');
    spec.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  }
  return spec;
}

}  // namespace npusim::compiler

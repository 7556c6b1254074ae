#include "compiler/frontends/hf_config.h"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "common/error.h"
#include "common/file.h"

namespace npusim::compiler {

namespace {
// A JSON value for an error message: short, and never an entire array or
// object (dumping those could be long or deeply nested).
std::string shown(const nlohmann::json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}
}  // namespace

uint64_t ConfigReader::count(const char* field, uint64_t max, uint64_t min) const {
  auto it = j_.find(field);
  require(it != j_.end() && !it->is_null(), where_, field, "is missing");
  const std::string range = fmt::format("must be an integer between {} and {}", min, max);
  // Non-negative integers are unsigned in nlohmann::json; negative ones
  // signed; integers past 2^64 and everything with a point or exponent, floats.
  require(it->is_number_unsigned(), where_, field, fmt::format("{}, not {}", range, shown(*it)));
  const auto v = it->get<uint64_t>();
  require(v >= min && v <= max, where_, field, fmt::format("{}, not {}", range, v));
  return v;
}

uint64_t ConfigReader::count_or(const char* field, uint64_t fallback, uint64_t max,
                                uint64_t min) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  return count(field, max, min);
}

double ConfigReader::real_or(const char* field, double fallback, double min, double max) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  const std::string range = fmt::format("must be a number between {:g} and {:g}", min, max);
  require(it->is_number(), where_, field, fmt::format("{}, not {}", range, shown(*it)));
  const auto v = it->get<double>();
  require(v >= min && v <= max, where_, field, fmt::format("{}, not {:g}", range, v));
  return v;
}

bool ConfigReader::flag_or(const char* field, bool fallback) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  require(it->is_boolean(), where_, field, "must be true or false, not " + shown(*it));
  return it->get<bool>();
}

std::string ConfigReader::text_or(const char* field, const std::string& fallback) const {
  auto it = j_.find(field);
  if (it == j_.end() || it->is_null()) return fallback;
  require(it->is_string(), where_, field, "must be a string, not " + shown(*it));
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

namespace {

constexpr int kMaxDepth = 64;  // nesting of arrays and objects

// Parses `text`, naming the field (its key path) when a number does not fit
// a double (1e400) and refusing nesting deeper than kMaxDepth.
nlohmann::json parse_json(const std::string& text, const std::string& where) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::string> path;  // per open object its current key, "[]" per array
  auto field = [&path] {
    std::string out;
    for (const auto& key : path) {
      if (key.empty()) continue;
      out += (out.empty() || key == "[]" ? "" : ".") + key;
    }
    if (out.size() > 60) out = out.substr(0, 57) + "...";
    return out.empty() ? std::string("(top level)") : out;
  };
  const nlohmann::json::parser_callback_t track = [&](int depth, Event event,
                                                      nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        require(depth < kMaxDepth, where, field(),
                fmt::format("nested deeper than {} levels", kMaxDepth));
        path.emplace_back(event == Event::array_start ? "[]" : "");
        break;
      case Event::key:
        if (!path.empty()) path.back() = parsed.get<std::string>();
        break;
      case Event::object_end:
      case Event::array_end:
        if (!path.empty()) path.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  // nlohmann's messages start "[json.exception.parse_error.101] ".
  auto plain = [](const std::exception& e) {
    const std::string what = e.what();
    const auto bracket = what.find("] ");
    return what.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos
               ? what.substr(bracket + 2)
               : what;
  };
  try {
    return nlohmann::json::parse(text, track);
  } catch (const nlohmann::json::out_of_range& e) {
    // A number past a double's range, while parsing the value of field().
    throw UserError(fmt::format("{}: {}: not a finite number ({})", where, field(), plain(e)));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: not valid JSON: {}", where, plain(e)));
  }
}

}  // namespace

ModelSpec parse_hf_config(const std::string& text, const std::string& where) {
  const nlohmann::json j = parse_json(text, where);
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
  require(spec.kv_heads <= spec.heads && spec.heads % spec.kv_heads == 0, where,
          "num_key_value_heads",
          fmt::format("{} must divide the {} attention heads", spec.kv_heads, spec.heads));
  if (spec.head_dim == 0) {
    require(spec.hidden % spec.heads == 0, where, "num_attention_heads",
            fmt::format("{} must divide the hidden size {}", spec.heads, spec.hidden));
    spec.head_dim = spec.hidden / spec.heads;
  }
  // Q's width: heads x head_dim, a projection's output like the hidden size.
  require(spec.heads * spec.head_dim <= kMaxHidden, where, "num_attention_heads",
          fmt::format("{} heads of {} (head_dim) make {} columns, more than {}", spec.heads,
                      spec.head_dim, spec.heads * spec.head_dim, kMaxHidden));
  return spec;
}

ModelSpec load_hf_config(const std::string& path) {
  // A config.json is a few KB; 16 MiB is no config.
  ModelSpec spec = parse_hf_config(read_file(path, uint64_t{16} << 20), path);
  if (spec.name.empty()) {
    const auto slash = path.find_last_of('/');
    spec.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  }
  return spec;
}

}  // namespace npusim::compiler

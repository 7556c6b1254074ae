#include "sim/cli/command.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "common/error.h"

namespace npusim::cli {

Args::Args(std::string command, std::vector<std::string> argv)
    : command_(std::move(command)), argv_(std::move(argv)) {}

void Args::option(const std::string& name, std::string* value, const std::string& help) {
  specs_[name] = {[value](const std::string& v) { *value = v; }, true, help};
}

void Args::fail(const std::string& name, const std::string& constraint) const {
  throw UserError(fmt::format("npusim {}: --{}: {}", command_, name, constraint));
}

void Args::option(const std::string& name, uint64_t* value, const std::string& help, uint64_t min,
                  uint64_t max) {
  specs_[name] = {
      [this, name, value, min, max](const std::string& v) {
        const char* end = v.data() + v.size();
        uint64_t parsed = 0;
        auto [ptr, ec] = std::from_chars(v.data(), end, parsed);
        if (ec != std::errc() || ptr != end || v.empty() || parsed < min || parsed > max) {
          fail(name, fmt::format("'{}' is not an integer between {} and {}", v, min, max));
        }
        *value = parsed;
      },
      true, fmt::format("{} ({} to {})", help, min, max)};
}

void Args::option(const std::string& name, double* value, const std::string& help, double min,
                  double max) {
  specs_[name] = {[this, name, value, min, max](const std::string& v) {
                    const char* end = v.data() + v.size();
                    double parsed = 0;
                    auto [ptr, ec] = std::from_chars(v.data(), end, parsed);
                    if (ec != std::errc() || ptr != end || v.empty() || !std::isfinite(parsed)) {
                      fail(name, fmt::format("'{}' is not a number", v));
                    }
                    if (!(parsed >= min && parsed <= max)) {
                      fail(name, fmt::format("{} must be between {} and {}", v, min, max));
                    }
                    *value = parsed;
                  },
                  true, fmt::format("{} ({} to {})", help, min, max)};
}

void Args::repeated(const std::string& name, std::vector<std::string>* values,
                    const std::string& help) {
  specs_[name] = {[values](const std::string& v) { values->push_back(v); }, true, help, true};
}

void Args::flag(const std::string& name, bool* value, const std::string& help) {
  specs_[name] = {[value](const std::string&) { *value = true; }, false, help};
}

void Args::positional(const std::string& name, std::vector<std::string>* values, size_t min,
                      size_t max, const std::string& help) {
  positional_ = values;
  positional_name_ = name;
  positional_help_ = help;
  pos_min_ = min;
  pos_max_ = max;
}

bool Args::parse() {
  std::vector<std::string> positional;
  for (size_t i = 0; i < argv_.size(); ++i) {
    const std::string& a = argv_[i];
    if (a == "--help" || a == "-h") {
      fmt::print("{}", usage());
      return false;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      throw UserError(fmt::format("npusim {}: unknown option --{} (see npusim {} --help)", command_,
                                  name, command_));
    }
    if (!it->second.repeatable && !given_.insert(name).second) {
      fail(name, "given more than once");
    }
    if (it->second.repeatable) given_.insert(name);
    if (!it->second.takes_value && has_value) fail(name, "takes no value");
    if (it->second.takes_value && !has_value) {
      if (i + 1 >= argv_.size()) {
        throw UserError(fmt::format("npusim {}: --{} needs a value", command_, name));
      }
      value = argv_[++i];
    }
    it->second.set(value);
    values_.emplace_back(name, value);
  }
  if (positional_ == nullptr && !positional.empty()) {
    throw UserError(fmt::format("npusim {}: unexpected argument '{}'", command_, positional[0]));
  }
  if (positional_ != nullptr) {
    if (positional.size() < pos_min_ || positional.size() > pos_max_) {
      throw UserError(fmt::format("npusim {}: expected {} {} argument(s), got {}", command_,
                                  pos_min_ == pos_max_ ? std::to_string(pos_min_)
                                                       : fmt::format("{}-{}", pos_min_, pos_max_),
                                  positional_name_, positional.size()));
    }
    *positional_ = positional;
  }
  return true;
}

std::string Args::usage() const {
  std::string out = fmt::format("usage: npusim {} [options]{}\n", command_,
                                positional_ ? " " + positional_name_ : "");
  if (positional_ != nullptr)
    out += fmt::format("  {:<22}{}\n", positional_name_, positional_help_);
  for (const auto& [name, spec] : specs_) {
    out += fmt::format("  --{:<20}{}\n", name + (spec.takes_value ? " X" : ""), spec.help);
  }
  return out;
}

namespace {
std::map<std::string, Command>& table() {
  static std::map<std::string, Command> commands;
  return commands;
}
}  // namespace

bool CommandRegistry::add(Command command) {
  std::string name = command.name;
  return table().emplace(std::move(name), std::move(command)).second;
}

const Command* CommandRegistry::find(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : &it->second;
}

std::vector<const Command*> CommandRegistry::all() {
  std::vector<const Command*> out;
  for (const auto& [name, c] : table()) out.push_back(&c);
  return out;
}

}  // namespace npusim::cli

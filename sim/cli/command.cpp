#include "sim/cli/command.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <sstream>

#include "common/error.h"

namespace npusim::cli {

Args::Args(std::string command, std::vector<std::string> argv)
    : command_(std::move(command)), argv_(std::move(argv)) {}

namespace {
namespace po = boost::program_options;

// The help text, with the value the option has before parsing when the
// text does not already say what the default is.
std::string with_default(const std::string& help, const std::string& value) {
  if (value.empty() || help.find("default") != std::string::npos) return help;
  return fmt::format("{} (default: {})", help, value);
}
}  // namespace

void Args::option(const std::string& name, std::string* value, const std::string& help) {
  specs_[name] = {[value](const std::string& v) { *value = v; }, true, with_default(help, *value)};
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
      true, with_default(fmt::format("{} ({} to {})", help, min, max), std::to_string(*value))};
}

void Args::option(const std::string& name, double* value, const std::string& help, double min,
                  double max) {
  specs_[name] = {
      [this, name, value, min, max](const std::string& v) {
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
      true, with_default(fmt::format("{} ({} to {})", help, min, max), fmt::format("{}", *value))};
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

po::options_description Args::description() const {
  po::options_description options("options", 100, 40);
  for (const auto& [name, spec] : specs_) {
    if (!spec.takes_value) {
      options.add_options()(name.c_str(), spec.help.c_str());
    } else if (spec.repeatable) {
      options.add_options()(name.c_str(),
                            po::value<std::vector<std::string>>()->value_name("X")->composing(),
                            (spec.help + " (repeatable)").c_str());
    } else {
      options.add_options()(name.c_str(), po::value<std::string>()->value_name("X"),
                            spec.help.c_str());
    }
  }
  options.add_options()("help", "print this help");
  return options;
}

bool Args::parse() {
  for (const std::string& a : argv_) {
    if (a == "--") break;
    if (a == "--help" || a == "-h") {
      fmt::print("{}", usage());
      return false;
    }
  }
  // Boost.Program_options matches the words to the options (long options
  // only, never abbreviated: a value may start with '-'); the options then
  // check and take their values in order, with npusim's messages.
  po::options_description all = description();
  all.add_options()("npusim-positional", po::value<std::vector<std::string>>());
  po::positional_options_description positional_spec;
  positional_spec.add("npusim-positional", -1);
  po::parsed_options parsed(nullptr);
  try {
    parsed = po::command_line_parser(argv_)
                 .options(all)
                 .positional(positional_spec)
                 .style(po::command_line_style::allow_long |
                        po::command_line_style::long_allow_adjacent |
                        po::command_line_style::long_allow_next)
                 .run();
  } catch (const po::unknown_option& e) {
    throw UserError(fmt::format("npusim {}: unknown option {} (see npusim {} --help)", command_,
                                e.get_option_name(), command_));
  } catch (const po::invalid_command_line_syntax& e) {
    const std::string option = e.get_option_name().substr(2);
    if (e.kind() == po::invalid_command_line_syntax::missing_parameter) {
      throw UserError(fmt::format("npusim {}: --{} needs a value", command_, option));
    }
    if (e.kind() == po::invalid_command_line_syntax::extra_parameter)
      fail(option, "takes no value");
    throw UserError(fmt::format("npusim {}: {}", command_, e.what()));
  } catch (const po::error& e) {
    throw UserError(fmt::format("npusim {}: {}", command_, e.what()));
  }
  std::vector<std::string> positional;
  for (const po::option& o : parsed.options) {
    if (o.string_key == "npusim-positional") {
      positional.insert(positional.end(), o.value.begin(), o.value.end());
      continue;
    }
    const std::string& name = o.string_key;
    const Spec& spec = specs_.at(name);
    if (!spec.repeatable && !given_.insert(name).second) fail(name, "given more than once");
    if (spec.repeatable) given_.insert(name);
    const std::string value = o.value.empty() ? "" : o.value.front();
    spec.set(value);
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
  std::ostringstream out;
  out << fmt::format("usage: npusim {} [options]{}\n", command_,
                     positional_ ? " " + positional_name_ : "");
  if (positional_ != nullptr) out << fmt::format("  {}: {}\n", positional_name_, positional_help_);
  out << description();
  return out.str();
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

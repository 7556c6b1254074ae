// The npusim command line: one file per subcommand, each registering itself
// with NPUSIM_REGISTER_COMMAND, and the options of each, matched by
// Boost.Program_options, checked here (ranges, repeats), whose errors are
// UserErrors (exit status 2). Help lists them aligned, with their defaults.
#pragma once

#include <boost/program_options/options_description.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace npusim::cli {

class Args {
 public:
  Args(std::string command, std::vector<std::string> argv);

  // Declarations; call before parse(). A number must lie in [min, max]
  // (written into the help text); a value outside is an error, never
  // clamped.
  void option(const std::string& name, std::string* value, const std::string& help);
  void option(const std::string& name, uint64_t* value, const std::string& help, uint64_t min,
              uint64_t max);
  void option(const std::string& name, double* value, const std::string& help, double min,
              double max);
  void repeated(const std::string& name, std::vector<std::string>* values, const std::string& help);
  void flag(const std::string& name, bool* value, const std::string& help);
  void positional(const std::string& name, std::vector<std::string>* values, size_t min, size_t max,
                  const std::string& help);

  [[nodiscard]] bool has_option(const std::string& name) const { return specs_.count(name) > 0; }
  // Whether parse() met --name.
  [[nodiscard]] bool given(const std::string& name) const { return given_.count(name) > 0; }
  [[nodiscard]] const std::set<std::string>& given() const { return given_; }
  // Every option parse() met, in order, with its value ("" for a flag).
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& values() const {
    return values_;
  }
  // UserError "npusim CMD: --name: ..." (for checks after parse()).
  [[noreturn]] void fail(const std::string& name, const std::string& constraint) const;

  // Parses argv; returns false when --help was given (usage printed).
  [[nodiscard]] bool parse();
  [[nodiscard]] std::string usage() const;

 private:
  [[nodiscard]] boost::program_options::options_description description() const;
  struct Spec {
    std::function<void(const std::string&)> set;
    bool takes_value;
    std::string help;
    bool repeatable = false;
  };
  std::string command_;
  std::vector<std::string> argv_;
  std::map<std::string, Spec> specs_;
  std::set<std::string> given_;
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string>* positional_ = nullptr;
  std::string positional_name_;
  std::string positional_help_;
  size_t pos_min_ = 0, pos_max_ = 0;
};

struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>&)> run;
};

class CommandRegistry {
 public:
  static bool add(Command command);
  [[nodiscard]] static const Command* find(const std::string& name);
  [[nodiscard]] static std::vector<const Command*> all();
};

}  // namespace npusim::cli

#define NPUSIM_REGISTER_COMMAND(NAME, SUMMARY, FN)                      \
  [[maybe_unused]] static const bool npusim_command_registered_##NAME = \
      ::npusim::cli::CommandRegistry::add({#NAME, SUMMARY, FN})

// Errors that reach the user. A UserError is bad input (a config, a model, a
// command line): the CLI prints its message and exits with status 2. Anything
// else that escapes is a bug in npusim (a broken invariant).
#pragma once

#include <stdexcept>
#include <string>

namespace npusim {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& what) : std::runtime_error(what) {}
};

// Throws UserError("<where>: <field>: <constraint>") unless `ok`.
inline void require(bool ok, const std::string& where, const std::string& field,
                    const std::string& constraint) {
  if (!ok) throw UserError(where + ": " + field + ": " + constraint);
}

}  // namespace npusim

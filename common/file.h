// Reading a whole input file.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"

namespace npusim {

// The file's bytes; UserError "<path>: cannot open file" when it cannot be read.
[[nodiscard]] inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open file");
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace npusim

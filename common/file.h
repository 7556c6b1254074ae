// Reading a whole input file.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "common/error.h"

namespace npusim {

// The largest input file read whole: protobuf's own limit on a message.
inline constexpr uint64_t kMaxInputFileBytes = (uint64_t{1} << 31) - 1;

// The file's bytes; UserError "<path>: <why>" when it does not exist, is a
// directory or not a regular file (a device or pipe could be endless), is
// larger than `max_bytes`, or cannot be read.
[[nodiscard]] inline std::string read_file(const std::string& path,
                                           uint64_t max_bytes = kMaxInputFileBytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw UserError(path + ": cannot open file");
  if (fs::is_directory(status)) throw UserError(path + ": is a directory, not a file");
  if (!fs::is_regular_file(status)) throw UserError(path + ": is not a regular file");
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw UserError(path + ": cannot open file");
  if (size > max_bytes) {
    throw UserError(fmt::format("{}: the file has {} bytes, more than the {} this input may have",
                                path, static_cast<uint64_t>(size), max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open file");
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw UserError(path + ": cannot read the file");
  return bytes.str();
}

}  // namespace npusim

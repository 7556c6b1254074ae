#include "sim/output_file.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/error.h"

namespace npusim::sim {

OutputFile::OutputFile(std::string path, std::string option)
    : path_(std::move(path)), option_(std::move(option)) {
  if (path_.empty()) throw UserError(option_ + ": needs a file name");
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec)) {
    throw UserError(fmt::format("{}: {}: is a directory, not a file", path_, option_));
  }
  if (std::filesystem::exists(path_, ec) && !std::filesystem::is_regular_file(path_, ec)) {
    // A device or a pipe cannot be replaced by a rename.
    throw UserError(fmt::format("{}: {}: is not a regular file", path_, option_));
  }
  std::vector<char> name(path_.begin(), path_.end());
  const std::string suffix = ".partial-XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) fail("cannot write the file", errno);
  // mkstemp makes the file private; an output gets the usual permissions.
  const mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  close(fd);
  temp_ = name.data();
  out_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    const int error = errno;
    std::remove(temp_.c_str());
    fail("cannot write the file", error);
  }
}

OutputFile::~OutputFile() {
  if (!committed_ && !temp_.empty()) {
    out_.close();
    std::remove(temp_.c_str());
  }
}

void OutputFile::fail(const std::string& what, int error) const {
  throw UserError(fmt::format("{}: {}: {} ({})", path_, option_, what,
                              error != 0 ? std::strerror(error) : "an I/O error"));
}

void OutputFile::commit() {
  errno = 0;
  out_.flush();
  if (!out_) fail("writing the file failed", errno);
  out_.close();
  if (!out_) fail("writing the file failed", errno);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) fail("writing the file failed", errno);
  committed_ = true;
}

void OutputFile::check(const std::string& path, const std::string& option) {
  const OutputFile probe(path, option);  // removed again when it goes
}

void write_output(const std::string& path, const std::string& option, const std::string& text) {
  OutputFile file(path, option);
  file.stream() << text;
  file.commit();
}

}  // namespace npusim::sim

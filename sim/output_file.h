// Output files that appear whole or not at all. The bytes go to a temporary
// file beside the target; commit() flushes and checks them and renames the
// file into place, so a failed write (a full disk, a file size limit) leaves
// no partial file behind and names the file and the option in the error.
#pragma once

#include <fstream>
#include <string>

namespace npusim::sim {

class OutputFile {
 public:
  // Opens a temporary file beside `path`; UserError "<path>: <option>:
  // cannot write the file (<reason>)" when that is not possible.
  OutputFile(std::string path, std::string option);
  // Removes the temporary file unless committed.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  [[nodiscard]] std::ostream& stream() { return out_; }
  // Flushes, checks and renames the file into place; UserError "<path>:
  // <option>: writing the file failed (<reason>)" otherwise.
  void commit();

  // Checks that `path` can be written now, leaving nothing behind: each
  // command checks its outputs before it compiles or simulates anything.
  static void check(const std::string& path, const std::string& option);

 private:
  [[noreturn]] void fail(const std::string& what, int error) const;

  std::string path_, option_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

// Writes `text` to `path` through an OutputFile.
void write_output(const std::string& path, const std::string& option, const std::string& text);

}  // namespace npusim::sim

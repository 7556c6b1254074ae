// Shared by the libFuzzer harnesses (one per input kind, fuzz_<kind>.cpp).
// Each harness feeds its input to the entry points the command line uses; a
// UserError (bad input, reported cleanly) is the expected outcome, anything
// else escapes and is a crash: an uncaught exception, a sanitizer report, a
// timeout. README.md says how to run them.
#pragma once

#include <google/protobuf/stubs/logging.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "arch/isa.pb.h"
#include "common/error.h"
#include "sim/config.h"
#include "sim/system.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace npusim::fuzz {

// Protobuf logs every string field with invalid UTF-8 it refuses; the parse
// error still arrives as a UserError, and a fatal log still aborts.
inline const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

// The input as text.
inline std::string text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input written to a file for the entry points that take a path (the
// file's suffix picks its format); removed when it goes out of scope.
class TempFile {
 public:
  TempFile(const uint8_t* data, size_t size, const std::string& suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/npusim-fuzz-" +
            std::to_string(getpid()) + suffix;
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", path_.c_str());
      std::abort();
    }
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `f`; a UserError is the expected answer to bad input. With
// NPUSIM_FUZZ_VERBOSE set, says how each input ended (to check that seeds
// reach past the parsers).
template <typename F>
void expect_user_errors_only(F&& f) {
  static const bool verbose = std::getenv("NPUSIM_FUZZ_VERBOSE") != nullptr;
  try {
    f();
    if (verbose) std::fprintf(stderr, "fuzz: accepted\n");
  } catch (const UserError& e) {
    if (verbose) std::fprintf(stderr, "fuzz: user error: %s\n", e.what());
  }
}

// Memory requests a program's DMAs make on `system` (rows split into
// requests of at most core.dma.max_request_bytes), saturating: simulation
// time grows with them, so harnesses simulate only programs with few.
inline uint64_t dma_requests(const Program& program, const System& system) {
  const uint64_t max_request = std::max<uint64_t>(1, system.core().dma().max_request_bytes());
  uint64_t total = 0;
  for (const auto& core : program.cores()) {
    for (const auto& ins : core.dma()) {
      if (!ins.has_dma()) continue;
      const uint64_t rows = ins.dma().rows();
      const uint64_t per_row = ins.dma().row_bytes() / max_request + 1;
      if (rows != 0 && per_row > UINT64_MAX / rows) return UINT64_MAX;
      if (total > UINT64_MAX - rows * per_row) return UINT64_MAX;
      total += rows * per_row;
    }
  }
  return total;
}
inline constexpr uint64_t kMaxSimulatedRequests = uint64_t{1} << 16;

// The small teaching system (examples/hw/npu-128x128-ideal.textproto) with
// `sets`, for harnesses that compile or simulate what they parse.
inline System small_system(const std::vector<std::string>& sets = {}) {
  return sim::load_system(
      std::string(NPUSIM_SOURCE_DIR) + "/examples/hw/npu-128x128-ideal.textproto", sets);
}

}  // namespace npusim::fuzz

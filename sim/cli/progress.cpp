#include "sim/cli/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace npusim::cli {

Progress::Progress(bool enabled) : enabled_(enabled), terminal_(isatty(STDERR_FILENO) != 0) {}

Progress::~Progress() {
  if (shown_ && terminal_) fmt::print(stderr, "\r{:100}\r", "");
}

void Progress::update(uint64_t done, uint64_t total, uint64_t simulated_ps) {
  if (!enabled_) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const auto every = terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(10);
  if (elapsed < 2.0 || (shown_ && now - last_ < every) ||
      (!terminal_ && !shown_ && now - start_ < every)) {
    return;
  }
  last_ = now;
  shown_ = true;
  const double share = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  // Instructions left at the rate so far (instructions differ in cost: an
  // estimate).
  const std::string left =
      done > 0 ? fmt::format("~{:.0f} s left", elapsed * static_cast<double>(total - done) /
                                                   static_cast<double>(done))
               : "";
  const std::string figures =
      fmt::format("{:3.0f}%  {}/{} instructions  {:.3f} ms simulated  {:.0f} k/s  {:.0f} s, {}",
                  100.0 * share, done, total, static_cast<double>(simulated_ps) * 1e-9,
                  static_cast<double>(done) / elapsed * 1e-3, elapsed, left);
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(share * kWidth);
    fmt::print(stderr, "\r[{:#<{}}{:.<{}}] {} ", "", filled, "", kWidth - filled, figures);
  } else {
    fmt::print(stderr, "progress: {}\n", figures);
  }
  std::fflush(stderr);
}

}  // namespace npusim::cli

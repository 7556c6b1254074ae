#include "sim/cli/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace npusim::cli {

Progress::Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO) != 0) {}

Progress::~Progress() {
  if (shown_) fmt::print(stderr, "\r{:80}\r", "");
}

void Progress::update(uint64_t done, uint64_t total, uint64_t simulated_ps) {
  if (!enabled_) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (elapsed < 2.0 || now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  shown_ = true;
  const double share = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(share * kWidth);
  fmt::print(stderr,
             "\r[{:#<{}}{:.<{}}] {:3.0f}%  {}/{} instructions  {:.3f} ms simulated  {:.0f} k/s ",
             "", filled, "", kWidth - filled, 100.0 * share, done, total,
             static_cast<double>(simulated_ps) * 1e-9, static_cast<double>(done) / elapsed * 1e-3);
  std::fflush(stderr);
}

}  // namespace npusim::cli

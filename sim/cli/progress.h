// A progress line on stderr for long runs: nothing for the first two seconds
// (short runs stay silent), then at most five updates a second with the
// instructions issued, the simulated time and the rate; cleared at the end.
// Off when stderr is not a terminal.
#pragma once

#include <chrono>
#include <cstdint>

namespace npusim::cli {

class Progress {
 public:
  explicit Progress(bool enabled);
  ~Progress();  // clears the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(uint64_t done, uint64_t total, uint64_t simulated_ps);

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

}  // namespace npusim::cli

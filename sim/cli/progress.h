// Progress of a long run on stderr: nothing for the first two seconds
// (short runs stay silent), then the instructions issued, the simulated
// time, the rate and an estimate of the time left. On a terminal it is one
// line redrawn at most five times a second and cleared at the end; in a
// log (stderr not a terminal) a line every ten seconds.
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
  bool terminal_;
  bool shown_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

}  // namespace npusim::cli

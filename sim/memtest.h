// npusim memtest: the memory of a system driven alone by a traffic generator.
#pragma once

#include <cstdint>
#include <string>

#include "sim/report.pb.h"
#include "sim/system.pb.h"

namespace npusim::sim {

struct MemtestOptions {
  std::string pattern = "sequential";  // sequential, random, strided
  std::string trace;                   // a trace file instead of a pattern
  uint64_t requests = 100000;
  uint64_t request_bytes = 64;
  uint64_t stride = 0;  // strided: bytes between requests (default 4 x request)
  double read_fraction = 1.0;
  uint64_t outstanding = 64;
  uint64_t seed = 1;
  uint64_t footprint = 0;  // bytes the pattern covers; 0: the whole memory
  // Which of the system's memories (its name; empty: the first), reached
  // through its link if it has one.
  std::string memory;
};

// UserError on bad options.
[[nodiscard]] MemtestReport run_memtest(const System& system, const MemtestOptions& options);

// What the system's memory sustains on a sequential stream of the DMA's
// requests (its request size, as many in flight): the roofline's memory roof.
[[nodiscard]] double sustained_bandwidth_gbps(const System& system);

}  // namespace npusim::sim

// Compiled programs shared by the points of a sweep that the compiler cannot
// tell apart: the same workload options and the same compiler-visible
// system. Points that vary only what the simulator alone reads (DRAM
// refresh or page policy, link bandwidth, energy) compile once.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "sim/system.pb.h"
#include "sim/workload.h"

namespace npusim::sim {

// What compile_workload() sees of (system, where, options), as bytes: two
// calls with equal keys compile to the same program. The core's whole
// configuration, the topology's chips, cores and parallelism, the
// placement rules, and each memory as the compiler knows it (its name,
// capacity, reachable peak bandwidth and read latency, interleave, link,
// and a PIM memory's whole configuration).
[[nodiscard]] std::string compile_key(const System& system, const std::string& where,
                                      const WorkloadOptions& options);

// The last `capacity` programs compiled, by compile_key(). The files the
// options name are read once per key: a cache lives as long as one sweep,
// whose files do not change (the sweep store checks their CRCs).
class ProgramCache {
 public:
  explicit ProgramCache(size_t capacity = 2) : capacity_(capacity) {}
  // The program of (system, where, options): compiled now, or the one an
  // earlier call with the same key compiled. UserError as compile_workload().
  [[nodiscard]] std::shared_ptr<const Compiled> get(const System& system, const std::string& where,
                                                    const WorkloadOptions& options);
  [[nodiscard]] uint64_t hits() const { return hits_; }
  [[nodiscard]] uint64_t misses() const { return misses_; }

 private:
  size_t capacity_;
  std::list<std::pair<std::string, std::shared_ptr<const Compiled>>> entries_;  // newest first
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace npusim::sim

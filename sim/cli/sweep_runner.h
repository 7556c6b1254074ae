// How a sweep's points run: in this process, in child processes
// (--jobs), or over MPI ranks (mpirun/srun). Each way hands every outcome
// to one callback in the process that keeps the results (rank 0 under MPI),
// in the order points finish.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/cli/options.h"
#include "sim/program_cache.h"
#include "sim/report.pb.h"
#include "sim/workload.h"

namespace npusim::cli {

// What one point runs: the system file with its overrides, and the
// workload. (The system itself is loaded when the point runs: a sweep of
// many points holds little per point.)
struct Point {
  std::string label;  // field=value, ...
  SystemOptions system;
  sim::WorkloadOptions workload;
};

// A point's outcome: its report, or the error that stopped it.
struct Outcome {
  size_t point = 0;
  bool ok = false;
  Report report;
  std::string error;
};

// Gets each outcome; returns false to deal no more points (those running
// finish and are handed over too).
using OutcomeSink = std::function<bool(Outcome&)>;

// A point's system, and (with `check`) its workload placed on it, or the
// UserError that names the point.
[[nodiscard]] System point_system(const Point& p, bool check);
// Runs a point: its outcome. A UserError becomes the error; any other
// exception (a bug) too, after kInternalError. Its program comes from
// `cache` when an earlier point compiled the same one.
[[nodiscard]] Outcome run_point(const std::vector<Point>& points, size_t i,
                                sim::ProgramCache& cache);
inline constexpr const char* kInternalError = "internal error (a bug in npusim, please report): ";

// Runs `todo` (point indices) here, one after another.
void run_here(const std::vector<Point>& points, const std::vector<size_t>& todo,
              const OutcomeSink& done);
// Runs `todo` in up to `jobs` child processes at once (SystemC runs one
// simulation per process at a time). Each child sends its report back
// through a pipe and dies with the sweep (PR_SET_PDEATHSIG), so a killed
// sweep leaves neither processes nor files behind.
void run_children(const std::vector<Point>& points, const std::vector<size_t>& todo, uint64_t jobs,
                  const OutcomeSink& done);

// The MPI job this process is a rank of, when launched by mpirun or srun
// (MPI is initialised then, and finalised when the object goes).
class MpiJob {
 public:
  // Whether the environment says an MPI launcher started this process.
  [[nodiscard]] static bool launched();
  MpiJob();
  ~MpiJob();
  MpiJob(const MpiJob&) = delete;
  MpiJob& operator=(const MpiJob&) = delete;
  [[nodiscard]] int rank() const;
  [[nodiscard]] int size() const;
  // Rank 0 says whether the sweep goes ahead (its checks passed); every
  // other rank learns it.
  [[nodiscard]] bool agree(bool go);
  // Rank 0: deals `todo` dynamically, a point at a time, to every rank and
  // to itself (a thread simulates while this one talks to the ranks).
  void lead(const std::vector<Point>& points, const std::vector<size_t>& todo,
            const OutcomeSink& done);
  // The other ranks: run the points rank 0 deals until it says stop.
  void follow(const std::vector<Point>& points);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace npusim::cli

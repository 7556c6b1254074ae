// Where a sweep keeps its results so that none is lost: a journal that
// records each point as it finishes (one line, appended), the CSV rewritten
// whole (temporary file, then rename) with the finished points in grid
// order, and each point's JSON report under a name made of its varied
// values. Opening a store over an earlier run of the same sweep resumes it:
// the points it finished are skipped; a journal of another sweep (other
// axes, options or input files) is refused.
//
// The journal is `<csv>.journal`, or `<reports>/journal` without a CSV. Its
// first line names the format, the definition lines follow, then one line
// per finished point: "point <index>\t<table figures>\t<csv row>".
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "sim/report.pb.h"

namespace npusim::sim {

class SweepStore {
 public:
  struct Options {
    std::string csv;                 // empty: no CSV
    std::string reports;             // empty: no reports
    std::string definition;          // what must match to resume (sweep_definition())
    std::string header;              // the CSV header
    std::vector<std::string> names;  // per point: its report's file stem
    bool restart = false;            // forget an earlier run instead of resuming it
  };
  // UserError naming the file when an output cannot be written or the
  // journal holds another sweep.
  explicit SweepStore(Options options);
  ~SweepStore();
  SweepStore(const SweepStore&) = delete;
  SweepStore& operator=(const SweepStore&) = delete;

  [[nodiscard]] bool finished(size_t point) const { return !rows_[point].empty(); }
  [[nodiscard]] size_t finished_count() const { return count_; }
  // The table figures a finished point was recorded with.
  [[nodiscard]] const std::string& figures(size_t point) const { return figures_[point]; }

  // Records a finished point: its report (when it ran), its CSV row and its
  // figures for the table. The report is written first, then the journal
  // line, then the CSV.
  void record(size_t point, const Report* report, const std::string& row,
              const std::string& figures);
  // Writes the CSV with every point finished so far (record() does when
  // rewriting it costs little next to the points' time).
  void flush();

 private:
  void load(const std::string& journal);
  Options o_;
  std::string journal_;
  std::FILE* out_ = nullptr;
  std::vector<std::string> rows_, figures_;
  size_t count_ = 0;
  bool dirty_ = false;
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_flush_ = Clock::now();
};

// What identifies a sweep: its options, in order, less those that only say
// where and how to run it (the caller leaves them out), and the size and
// CRC-32 of every file an option's value names (split at ',' and '='), so
// that an edited system or model file is another sweep.
[[nodiscard]] std::string sweep_definition(
    const std::vector<std::pair<std::string, std::string>>& options);

// A point's report name: its varied values as field=value joined by '_',
// a system file as its stem, other characters than letters, digits and
// ".-+=" as '-'; names that would collide get the point's index too.
[[nodiscard]] std::vector<std::string> sweep_report_names(
    const std::vector<std::string>& fields, const std::vector<std::vector<std::string>>& grid);

}  // namespace npusim::sim

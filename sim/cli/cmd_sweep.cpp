// npusim sweep: one run per point of a grid of system fields and workload
// options; a table on stdout, a CSV row and a JSON report per point, kept
// as each point finishes (sim/sweep_store.h), so that a sweep that stops
// resumes where it stopped.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <stdexcept>

#include "common/error.h"
#include "common/version.h"
#include "sim/cli/options.h"
#include "sim/cli/sweep_runner.h"
#include "sim/output_file.h"
#include "sim/report_io.h"
#include "sim/sweep.h"
#include "sim/sweep_store.h"

namespace npusim::cli {
namespace {

std::vector<Point> build_points(const SystemOptions& sys, const sim::WorkloadOptions& work,
                                const std::vector<sim::SweepAxis>& axes,
                                const std::vector<std::vector<std::string>>& grid) {
  sim::WorkloadOptions probe;
  Args workload_args("sweep", {});
  add_workload_options(workload_args, probe);
  std::vector<Point> points;
  for (const auto& values : grid) {
    Point p;
    p.workload = work;
    p.system = sys;
    std::vector<std::string> workload_argv;
    for (size_t a = 0; a < axes.size(); ++a) {
      p.label += fmt::format("{}{}={}", a == 0 ? "" : " ", axes[a].field, values[a]);
      if (axes[a].field == "system") {  // a system file of its own
        p.system.system = values[a];
      } else if (workload_args.has_option(axes[a].field)) {
        workload_argv.push_back("--" + axes[a].field);
        workload_argv.push_back(values[a]);
      } else {
        p.system.sets.push_back(axes[a].field + "=" + values[a]);
      }
    }
    // A value the option parser refuses fails here, before any point runs.
    try {
      Args args("sweep", workload_argv);
      add_workload_options(args, p.workload);
      (void)args.parse();
    } catch (const UserError& e) {
      throw UserError(fmt::format("--vary: the point {}: {}", p.label, e.what()));
    }
    points.push_back(std::move(p));
  }
  return points;
}

// The --reports folder exists and is a folder, or can be made: its
// nearest existing ancestor is a folder we may write.
void check_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(dir, ec);
  while (!ec && !std::filesystem::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) {
    p = p.parent_path();
  }
  if (ec || !std::filesystem::is_directory(p, ec) || access(p.c_str(), W_OK | X_OK) != 0) {
    throw UserError(fmt::format("{}: --reports: cannot create or write the folder", dir));
  }
}

std::string clock_text(double seconds) {
  const auto s = static_cast<uint64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

// `mpi`: the MPI job, when launched by mpirun or srun: the ranks share the
// points (rank 0 keeps the results and simulates too).
int sweep_ranks(const std::vector<std::string>& argv, MpiJob* mpi) {
  Args args("sweep", argv);
  SystemOptions sys;
  sim::WorkloadOptions work;
  std::vector<std::string> vary;
  std::string csv_path, reports_dir;
  uint64_t jobs = 1;
  bool quiet = false, keep_going = false, restart = false;
  add_system_options(args, sys);
  add_workload_options(args, work);
  args.repeated("vary", &vary,
                "a system field, a workload option or the system file and its values: --vary "
                "batch=1,4,16, --vary core.array.count=1,2, --vary system=a.textproto,b.textproto "
                "(repeatable; every combination runs)");
  args.option("csv", &csv_path,
              "write one row per point to this CSV file, as each point finishes (FILE.journal "
              "beside it records them: the same command again resumes)");
  args.option("reports", &reports_dir,
              "write each point's JSON report into this folder, named by its varied values");
  args.option("jobs", &jobs, "points simulated at once, each in its own process (default 1)", 1,
              256);
  args.flag("keep-going", &keep_going,
            "a point that fails gets its error in the CSV's error column, and the others run "
            "(default: the sweep stops, keeping the finished points)");
  args.flag("restart", &restart, "forget the points an earlier run of this sweep finished");
  args.flag("quiet", &quiet, "print no table and no progress");
  if (!args.parse()) return 0;
  if (vary.empty()) throw UserError("npusim sweep: --vary: give at least one field=v1,v2,...");
  if (jobs < 1 || jobs > 256) throw UserError("--jobs: must be between 1 and 256");
  const bool ranks = mpi != nullptr && mpi->size() > 1;
  if (ranks && jobs > 1) {
    args.fail("jobs", fmt::format("under MPI each of the {} ranks runs one point at a time: leave "
                                  "--jobs out and start more ranks",
                                  mpi->size()));
  }

  std::vector<sim::SweepAxis> axes;
  for (const std::string& v : vary) {
    axes.push_back(sim::parse_sweep_axis(v));
    for (size_t a = 0; a + 1 < axes.size(); ++a) {
      if (axes[a].field == axes.back().field) {
        throw UserError(fmt::format("--vary {}: {} is varied twice", v, axes.back().field));
      }
    }
  }
  {
    // Workload options given as flags or varied: the same rules.
    std::set<std::string> given = args.given();
    for (const auto& axis : axes) given.insert(axis.field);
    check_workload_options(given, work);
  }
  const auto grid = sim::sweep_grid(axes);
  const std::vector<Point> points = build_points(sys, work, axes, grid);
  if (ranks && mpi->rank() != 0) {  // rank 0 checks, then deals the points
    // (Refused: rank 0 says why and ends with status 2, see sweep().)
    if (!mpi->agree(false)) return 0;
    mpi->follow(points);
    return 0;
  }
  // Rank 0 tells the others whether its checks passed.
  struct Agreement {
    MpiJob* mpi;
    bool agreed = false;
    ~Agreement() {
      if (mpi != nullptr && !agreed) (void)mpi->agree(false);
    }
  } agreement{ranks ? mpi : nullptr};
  // The outputs can be written, before any point runs.
  if (!csv_path.empty()) sim::OutputFile::check(csv_path, "--csv");
  if (!reports_dir.empty()) check_folder(reports_dir);

  // Every point's system and workload, placed, before the first runs: a
  // point that cannot run is found now, not after hours of the others.
  std::vector<std::string> refused(points.size());
  std::unique_ptr<sim::SweepTable> table;
  for (size_t i = 0; i < points.size(); ++i) {
    try {
      const System system = point_system(points[i], true);
      if (table == nullptr) table = std::make_unique<sim::SweepTable>(axes, system);
    } catch (const UserError& e) {
      if (!keep_going) throw UserError(fmt::format("--vary: {}", e.what()));
      refused[i] = e.what();
    }
  }
  if (table == nullptr) table = std::make_unique<sim::SweepTable>(axes, System());

  sim::SweepStore::Options store_options;
  store_options.csv = csv_path;
  store_options.reports = reports_dir;
  std::vector<std::pair<std::string, std::string>> definition;
  for (const auto& [name, value] : args.values()) {
    static const std::set<std::string> how = {"csv",   "reports", "jobs",
                                              "quiet", "restart", "keep-going"};
    if (how.count(name) == 0) definition.emplace_back(name, value);
  }
  // Results of another npusim version may differ: its journal is another sweep's.
  store_options.definition =
      fmt::format("npusim {}\n", kVersion) + sim::sweep_definition(definition);
  store_options.header = table->header();
  std::vector<std::string> fields;
  for (const auto& axis : axes) fields.push_back(axis.field);
  store_options.names = sim::sweep_report_names(fields, grid);
  store_options.restart = restart;
  sim::SweepStore store(store_options);
  if (ranks) agreement.agreed = mpi->agree(true);

  // Progress on stderr after every point (a batch log gets it too).
  const auto start = std::chrono::steady_clock::now();
  size_t ran = 0;
  const size_t resumed = store.finished_count();
  std::string failure;
  if (!quiet && resumed > 0) {
    std::cerr << fmt::format("resuming: {} of {} points finished earlier\n", resumed,
                             points.size());
  }
  auto finish = [&](Outcome& o) {
    const Point& p = points[o.point];
    std::string figures;
    std::string row;
    if (o.ok) {
      const Report& r = o.report;
      figures = fmt::format("{:>12.2f}{:>12.0f}{:>10.3f}{:>9.1f}%{:>9.2f}%  {} ({:.0f}%)",
                            r.seconds() * 1e6, sim::tokens_per_second(r),
                            r.energy().joules_per_token() * 1e3, 100.0 * sim::bandwidth_share(r),
                            100.0 * r.compute().array_utilization(), r.limiter().resource(),
                            100.0 * r.limiter().busy_share());
      row = table->row(grid[o.point], r);
    } else {
      if (!keep_going) {
        if (failure.empty()) failure = o.error;
        return false;
      }
      figures = "  failed: " + sim::one_line(o.error);
      row = table->failed_row(grid[o.point], o.error);
    }
    store.record(o.point, o.ok ? &o.report : nullptr, row, figures);
    ++ran;
    if (!quiet) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const size_t left = points.size() - store.finished_count();
      std::cerr << fmt::format("[{}/{}] {}{}  {} elapsed, {} left\n", store.finished_count(),
                               points.size(), p.label, o.ok ? "" : " FAILED", clock_text(elapsed),
                               left == 0 ? "none" : "~" + clock_text(elapsed / ran * left));
    }
    return true;
  };

  std::vector<size_t> todo;
  for (size_t i = 0; i < points.size(); ++i) {
    if (store.finished(i)) continue;
    if (!refused[i].empty()) {
      Outcome o;
      o.point = i;
      o.error = refused[i];
      (void)finish(o);
      continue;
    }
    todo.push_back(i);
  }
  if (ranks) {
    mpi->lead(points, todo, finish);
  } else if (jobs == 1) {
    run_here(points, todo, finish);
  } else {
    run_children(points, todo, jobs, finish);
  }
  store.flush();
  if (failure.rfind(kInternalError, 0) == 0)
    throw std::runtime_error(failure.substr(std::strlen(kInternalError)));
  if (!failure.empty()) {
    throw UserError(fmt::format("{} ({} of {} points finished{}; the same command resumes)",
                                failure, store.finished_count(), points.size(),
                                csv_path.empty() ? "" : ", in " + csv_path));
  }

  if (!quiet) {
    size_t width = 8;
    for (const Point& p : points) width = std::max(width, p.label.size() + 2);
    fmt::print("{:<{}}{:>12}{:>12}{:>10}{:>10}{:>10}  {}\n", "point", width, "time us", "tokens/s",
               "mJ/token", "memory", "arrays", "limited by");
    for (size_t i = 0; i < points.size(); ++i) {
      fmt::print("{:<{}}{}\n", points[i].label, width, store.figures(i));
    }
  }
  return 0;
}

int sweep(const std::vector<std::string>& argv) {
  std::unique_ptr<MpiJob> mpi;
  if (MpiJob::launched()) mpi = std::make_unique<MpiJob>();
  try {
    return sweep_ranks(argv, mpi.get());
  } catch (const UserError&) {
    // Every rank parses the same command line: rank 0 says what is wrong,
    // and its status is the job's. The others end quietly with 0: mpirun
    // stops the job at the first rank that fails, which could cut rank 0
    // off before it says why.
    if (mpi != nullptr && mpi->rank() != 0) return 0;
    throw;
  }
}

}  // namespace

NPUSIM_REGISTER_COMMAND(sweep,
                        "run every combination of values of system fields and workload options; "
                        "a table and a CSV row per point",
                        sweep);

}  // namespace npusim::cli

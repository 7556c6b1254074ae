// npusim sweep: one run per point of a grid of system fields and workload
// options; a table on stdout and a CSV row per point.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "common/error.h"
#include "sim/cli/options.h"
#include "sim/output_file.h"
#include "sim/report_io.h"
#include "sim/sweep.h"

namespace npusim::cli {
namespace {

// What one point runs: the system with its overrides and the workload.
struct Point {
  std::string label;  // field=value, ...
  System system;
  std::string where;  // its file, for errors
  sim::WorkloadOptions workload;
};

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
    SystemOptions s = sys;
    std::vector<std::string> workload_argv;
    for (size_t a = 0; a < axes.size(); ++a) {
      p.label += fmt::format("{}{}={}", a == 0 ? "" : " ", axes[a].field, values[a]);
      if (axes[a].field == "system") {  // a system file of its own
        s.system = values[a];
      } else if (workload_args.has_option(axes[a].field)) {
        workload_argv.push_back("--" + axes[a].field);
        workload_argv.push_back(values[a]);
      } else {
        s.sets.push_back(axes[a].field + "=" + values[a]);
      }
    }
    // A value the system or the option parser refuses fails here, before
    // any point runs (others, such as an unknown --phase, when it runs).
    try {
      Args args("sweep", workload_argv);
      add_workload_options(args, p.workload);
      (void)args.parse();
      p.system = load_system(s);
      p.where = s.system;
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

Report run_point(const Point& p) {
  try {
    return sim::run_workload(p.system, p.where, p.workload);
  } catch (const UserError& e) {
    throw UserError(fmt::format("the point {}: {}", p.label, e.what()));
  }
}

// Runs the points in up to `jobs` child processes at once (SystemC runs one
// simulation per process at a time); each child hands its report back in a
// file.
std::vector<Report> run_parallel(const std::vector<Point>& points, uint64_t jobs,
                                 const std::function<void(size_t)>& done) {
  std::vector<Report> reports(points.size());
  std::error_code ec;
  std::string pattern = (std::filesystem::temp_directory_path(ec) / "npusim-sweep-XXXXXX").string();
  if (ec || mkdtemp(pattern.data()) == nullptr) {
    throw UserError("--jobs: cannot create a temporary folder (TMPDIR)");
  }
  const std::filesystem::path dir = pattern;
  auto file = [&](size_t i, const char* ext) { return dir / fmt::format("{}.{}", i, ext); };
  std::map<pid_t, size_t> running;
  size_t next = 0;
  std::string failure;
  while ((next < points.size() && failure.empty()) || !running.empty()) {
    while (running.size() < jobs && next < points.size() && failure.empty()) {
      std::cout.flush();
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) throw UserError("--jobs: fork failed");
      if (pid == 0) {
        int status = 0;
        try {
          const Report r = run_point(points[next]);
          std::ofstream out(file(next, "pb"), std::ios::binary);
          if (!r.SerializeToOstream(&out)) status = 3;
        } catch (const std::exception& e) {
          std::ofstream(file(next, "err")) << e.what();
          status = 2;
        }
        std::_Exit(status);
      }
      running[pid] = next++;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    const size_t i = running.at(pid);
    running.erase(pid);
    std::ifstream in(file(i, "pb"), std::ios::binary);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && reports[i].ParseFromIstream(&in)) {
      done(i);
    } else if (failure.empty()) {
      std::ifstream err(file(i, "err"));
      std::getline(err, failure);
      if (failure.empty()) failure = fmt::format("the point {}: the run failed", points[i].label);
    }
  }
  std::filesystem::remove_all(dir);
  if (!failure.empty()) throw UserError(failure);
  return reports;
}

int sweep(const std::vector<std::string>& argv) {
  Args args("sweep", argv);
  SystemOptions sys;
  sim::WorkloadOptions work;
  std::vector<std::string> vary;
  std::string csv_path, reports_dir;
  uint64_t jobs = 1;
  bool quiet = false;
  add_system_options(args, sys);
  add_workload_options(args, work);
  args.repeated("vary", &vary,
                "a system field, a workload option or the system file and its values: --vary "
                "batch=1,4,16, --vary core.array.count=1,2, --vary system=a.textproto,b.textproto "
                "(repeatable; every combination runs)");
  args.option("csv", &csv_path, "write one row per point to this CSV file");
  args.option("reports", &reports_dir, "write each point's JSON report into this folder");
  args.option("jobs", &jobs, "points simulated at once, each in its own process (default 1)", 1,
              256);
  args.flag("quiet", &quiet, "print no table");
  if (!args.parse()) return 0;
  if (vary.empty()) throw UserError("npusim sweep: --vary: give at least one field=v1,v2,...");
  if (jobs < 1 || jobs > 256) throw UserError("--jobs: must be between 1 and 256");

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
  // The outputs can be written, before any point runs.
  std::unique_ptr<sim::OutputFile> csv;
  if (!csv_path.empty()) csv = std::make_unique<sim::OutputFile>(csv_path, "--csv");
  if (!reports_dir.empty()) check_folder(reports_dir);

  size_t finished = 0;
  auto done = [&](size_t i) {
    ++finished;
    if (!quiet) std::cerr << fmt::format("[{}/{}] {}\n", finished, points.size(), points[i].label);
  };
  std::vector<Report> reports;
  if (jobs == 1) {
    for (size_t i = 0; i < points.size(); ++i) {
      reports.push_back(run_point(points[i]));
      done(i);
    }
  } else {
    reports = run_parallel(points, jobs, done);
  }

  if (!quiet) {
    size_t width = 8;
    for (const Point& p : points) width = std::max(width, p.label.size() + 2);
    fmt::print("{:<{}}{:>12}{:>12}{:>10}{:>10}{:>10}  {}\n", "point", width, "time us", "tokens/s",
               "mJ/token", "memory", "arrays", "limited by");
    for (size_t i = 0; i < points.size(); ++i) {
      const Report& r = reports[i];
      fmt::print("{:<{}}{:>12.2f}{:>12.0f}{:>10.3f}{:>9.1f}%{:>9.2f}%  {} ({:.0f}%)\n",
                 points[i].label, width, r.seconds() * 1e6, sim::tokens_per_second(r),
                 r.energy().joules_per_token() * 1e3, 100.0 * sim::bandwidth_share(r),
                 100.0 * r.compute().array_utilization(), r.limiter().resource(),
                 100.0 * r.limiter().busy_share());
    }
  }
  if (csv != nullptr) {
    sim::write_sweep_csv(csv->stream(), axes, grid, reports);
    csv->commit();
  }
  if (!reports_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(reports_dir, ec);
    if (ec)
      throw UserError(
          fmt::format("{}: --reports: cannot create the folder ({})", reports_dir, ec.message()));
    for (size_t i = 0; i < reports.size(); ++i) {
      sim::write_json(reports[i],
                      (std::filesystem::path(reports_dir) / fmt::format("{}.json", i)).string(),
                      "--reports");
    }
  }
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(sweep,
                        "run every combination of values of system fields and workload options; "
                        "a table and a CSV row per point",
                        sweep);

}  // namespace npusim::cli

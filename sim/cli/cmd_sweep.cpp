// npusim sweep: one run per point of a grid of system fields and workload
// options; a table on stdout, a CSV row and a JSON report per point, kept
// as each point finishes (sim/sweep_store.h), so that a sweep that stops
// resumes where it stopped.
#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "common/error.h"
#include "common/version.h"
#include "sim/cli/options.h"
#include "sim/output_file.h"
#include "sim/report_io.h"
#include "sim/sweep.h"
#include "sim/sweep_store.h"

namespace npusim::cli {
namespace {

// What one point runs: the system file with its overrides, and the
// workload. (The system itself is loaded when the point runs: a sweep of
// many points holds little per point.)
struct Point {
  std::string label;  // field=value, ...
  SystemOptions system;
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

// A point's system, and (with `check`) its workload placed on it, or the
// UserError that names the point.
System point_system(const Point& p, bool check) {
  try {
    System system = load_system(p.system);
    if (check) sim::check_workload(system, p.system.system, p.workload);
    return system;
  } catch (const UserError& e) {
    throw UserError(fmt::format("the point {}: {}", p.label, e.what()));
  }
}

Report run_point(const Point& p) {
  const System system = point_system(p, false);
  try {
    return sim::run_workload(system, p.system.system, p.workload);
  } catch (const UserError& e) {
    throw UserError(fmt::format("the point {}: {}", p.label, e.what()));
  }
}

// A point's outcome: its report, or the error that stopped it.
struct Outcome {
  size_t point = 0;
  bool ok = false;
  Report report;
  std::string error;
};

// Runs `todo` (point indices) in up to `jobs` child processes at once
// (SystemC runs one simulation per process at a time). Each child sends its
// report back through a pipe and dies with the sweep (PR_SET_PDEATHSIG), so
// a killed sweep leaves neither processes nor files behind. `done` gets
// each outcome in the parent, as it comes; it returns false to deal no more
// points (the running ones finish).
void run_children(const std::vector<Point>& points, const std::vector<size_t>& todo, uint64_t jobs,
                  const std::function<bool(Outcome&)>& done) {
  struct Child {
    pid_t pid;
    size_t point;
    std::string data;
  };
  std::map<int, Child> running;  // by the pipe's read end
  size_t next = 0;
  bool more = true;
  const pid_t parent = getpid();
  while ((more && next < todo.size()) || !running.empty()) {
    while (more && running.size() < jobs && next < todo.size()) {
      int fds[2];
      if (pipe(fds) != 0) throw UserError("--jobs: cannot create a pipe");
      std::cout.flush();
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) throw UserError("--jobs: fork failed");
      if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) std::_Exit(1);  // the sweep died before the line above
        std::string out;
        try {
          const Report r = run_point(points[todo[next]]);
          out = "0" + r.SerializeAsString();
        } catch (const std::exception& e) {
          out = std::string("2") + e.what();
        }
        for (size_t at = 0; at < out.size();) {
          const ssize_t n = write(fds[1], out.data() + at, out.size() - at);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) std::_Exit(3);
          at += static_cast<size_t>(n);
        }
        std::_Exit(0);
      }
      close(fds[1]);
      running[fds[0]] = {pid, todo[next++], ""};
    }
    std::vector<pollfd> polls;
    for (const auto& [fd, child] : running) polls.push_back({fd, POLLIN, 0});
    if (poll(polls.data(), polls.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw UserError("--jobs: waiting for the points failed");
    }
    for (const pollfd& p : polls) {
      if (p.revents == 0) continue;
      Child& child = running.at(p.fd);
      char buffer[65536];
      const ssize_t n = read(p.fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        child.data.append(buffer, static_cast<size_t>(n));
        continue;
      }
      close(p.fd);  // the child finished (or died)
      int status = 0;
      waitpid(child.pid, &status, 0);
      Outcome o;
      o.point = child.point;
      const bool exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (exited && !child.data.empty() && child.data[0] == '0' &&
          o.report.ParseFromArray(child.data.data() + 1, static_cast<int>(child.data.size() - 1))) {
        o.ok = true;
      } else if (exited && !child.data.empty() && child.data[0] == '2') {
        o.error = child.data.substr(1);
      } else {
        o.error = fmt::format("the point {}: the run failed ({})", points[child.point].label,
                              WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no report");
      }
      running.erase(p.fd);
      if (!done(o)) more = false;
    }
  }
}

std::string clock_text(double seconds) {
  const auto s = static_cast<uint64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

int sweep(const std::vector<std::string>& argv) {
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
      std::string line = o.error;
      for (char& c : line) c = c == '\n' || c == '\t' || c == '\r' ? ' ' : c;
      figures = "  failed: " + line;
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
  if (jobs == 1) {
    for (size_t i : todo) {
      Outcome o;
      o.point = i;
      try {
        o.report = run_point(points[i]);
        o.ok = true;
      } catch (const UserError& e) {
        o.error = e.what();
      }
      if (!finish(o)) break;
    }
  } else {
    run_children(points, todo, jobs, finish);
  }
  store.flush();
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

}  // namespace

NPUSIM_REGISTER_COMMAND(sweep,
                        "run every combination of values of system fields and workload options; "
                        "a table and a CSV row per point",
                        sweep);

}  // namespace npusim::cli

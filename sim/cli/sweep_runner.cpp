#include "sim/cli/sweep_runner.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/mpi.hpp>
#include <boost/serialization/string.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "sim/program_cache.h"
#include "sim/sweep.h"

namespace npusim::cli {
namespace {

// An outcome as bytes between processes: "0" and the serialized report, or
// "2" and the error.
std::string encode(const Outcome& o) {
  return o.ok ? "0" + o.report.SerializeAsString() : "2" + o.error;
}

bool decode(size_t point, const std::string& data, Outcome* o) {
  o->point = point;
  if (data.empty()) return false;
  if (data[0] == '2') {
    o->ok = false;
    o->error = data.substr(1);
    return true;
  }
  o->ok = data[0] == '0' &&
          o->report.ParseFromArray(data.data() + 1, static_cast<int>(data.size() - 1));
  return o->ok;
}

}  // namespace

System point_system(const Point& p, bool check) {
  try {
    System system = load_system(p.system);
    if (check) sim::check_workload(system, p.system.system, p.workload);
    return system;
  } catch (const UserError& e) {
    throw UserError(fmt::format("the point {}: {}", p.label, e.what()));
  }
}

Outcome run_point(const std::vector<Point>& points, size_t i, sim::ProgramCache& cache) {
  const Point& p = points[i];
  Outcome o;
  o.point = i;
  try {
    const System system = point_system(p, false);
    try {
      o.report = sim::run_workload(system, p.system.system, p.workload, &cache);
      o.ok = true;
    } catch (const UserError& e) {
      throw UserError(fmt::format("the point {}: {}", p.label, e.what()));
    }
  } catch (const UserError& e) {
    o.error = e.what();
  } catch (const std::exception& e) {  // a bug: said so (the sweep then exits with status 1)
    o.error = fmt::format("{}{}", kInternalError, e.what());
  }
  return o;
}

void run_here(const std::vector<Point>& points, const std::vector<size_t>& todo,
              const OutcomeSink& done) {
  sim::ProgramCache cache;
  for (size_t i : todo) {
    Outcome o = run_point(points, i, cache);
    if (!done(o)) break;
  }
}

void run_children(const std::vector<Point>& points, const std::vector<size_t>& todo, uint64_t jobs,
                  const OutcomeSink& done) {
  struct Child {
    pid_t pid;
    size_t point;
    std::string data;
  };
  std::map<int, Child> running;  // by the pipe's read end
  size_t next = 0;
  bool more = true;
  const pid_t parent = getpid();
  // Each distinct program is compiled once, here, and the children that
  // run its points inherit it. (A point that fails to compile fails again
  // in its child, which reports why.)
  sim::ProgramCache cache;
  while ((more && next < todo.size()) || !running.empty()) {
    while (more && running.size() < jobs && next < todo.size()) {
      try {
        const Point& p = points[todo[next]];
        (void)cache.get(point_system(p, false), p.system.system, p.workload);
      } catch (const std::exception&) {
      }
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
        const std::string out = encode(run_point(points, todo[next], cache));
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
      const bool exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!exited || !decode(child.point, child.data, &o)) {
        o.point = child.point;
        o.ok = false;
        o.error = fmt::format("the point {}: the run failed ({})", points[child.point].label,
                              WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no report");
      }
      running.erase(p.fd);
      if (!done(o)) more = false;
    }
  }
}

// --- MPI -----------------------------------------------------------------

namespace {
// Rank 0 and the others: a rank reports an outcome (or, first, that it is
// ready) and gets the next point, or -1 to stop.
constexpr int kResult = 1, kAssign = 2;
}  // namespace

struct MpiJob::State {
  // (An error ends a rank by unwinding, not MPI_Abort: rank 0 reports it.)
  boost::mpi::environment env{boost::mpi::threading::funneled, false};
  boost::mpi::communicator world;
};

bool MpiJob::launched() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

MpiJob::MpiJob() : s_(std::make_unique<State>()) {
  if (s_->env.thread_level() < boost::mpi::threading::funneled) {
    throw UserError(
        "MPI: the library cannot run a simulation thread beside the one that talks "
        "to the ranks (MPI_THREAD_FUNNELED)");
  }
}

MpiJob::~MpiJob() = default;

int MpiJob::rank() const {
  return s_->world.rank();
}
int MpiJob::size() const {
  return s_->world.size();
}

bool MpiJob::agree(bool go) {
  boost::mpi::broadcast(s_->world, go, 0);
  return go;
}

void MpiJob::lead(const std::vector<Point>& points, const std::vector<size_t>& todo,
                  const OutcomeSink& done) {
  boost::mpi::communicator& world = s_->world;
  std::mutex m;
  size_t next = 0;
  bool more = true;
  auto deal = [&]() -> int64_t {
    const std::lock_guard<std::mutex> lock(m);
    return more && next < todo.size() ? static_cast<int64_t>(todo[next++]) : -1;
  };
  // This rank simulates too, in a thread that never calls MPI.
  std::deque<Outcome> local;
  bool local_done = false;
  std::thread simulate([&] {
    sim::ProgramCache cache;
    for (int64_t p; (p = deal()) >= 0;) {
      Outcome o = run_point(points, static_cast<size_t>(p), cache);
      const std::lock_guard<std::mutex> lock(m);
      local.push_back(std::move(o));
    }
    const std::lock_guard<std::mutex> lock(m);
    local_done = true;
  });
  // Outcomes go to `done` here, one at a time; after an error in it (the
  // results cannot be written) no more points are dealt, the ranks are
  // stopped as they report, and the error is raised once all have.
  std::exception_ptr error;
  auto hand_over = [&](Outcome& o) {
    if (error) return;
    bool go_on = true;
    try {
      go_on = done(o);
    } catch (...) {
      error = std::current_exception();
      go_on = false;
    }
    if (!go_on) {
      const std::lock_guard<std::mutex> lock(m);
      more = false;
    }
  };
  int stopped = 0;
  for (;;) {
    bool busy = false;
    if (stopped < world.size() - 1) {
      if (auto status = world.iprobe(boost::mpi::any_source, kResult)) {
        std::string message;
        world.recv(status->source(), kResult, message);
        const size_t space = message.find(' ');
        const int64_t point = std::stoll(message.substr(0, space));
        if (point >= 0) {
          Outcome o;
          if (!decode(static_cast<size_t>(point), message.substr(space + 1), &o)) {
            o.error = fmt::format("the point {}: rank {} sent no report",
                                  points[static_cast<size_t>(point)].label, status->source());
          }
          hand_over(o);
        }
        const int64_t assign = deal();
        world.send(status->source(), kAssign, assign);
        if (assign < 0) ++stopped;
        busy = true;
      }
    }
    bool finished = false;
    for (;;) {
      Outcome o;
      {
        const std::lock_guard<std::mutex> lock(m);
        if (local.empty()) {
          finished = local_done;
          break;
        }
        o = std::move(local.front());
        local.pop_front();
      }
      hand_over(o);
      busy = true;
    }
    if (finished && stopped == world.size() - 1) break;
    if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  simulate.join();
  if (error) std::rethrow_exception(error);
}

void MpiJob::follow(const std::vector<Point>& points) {
  boost::mpi::communicator& world = s_->world;
  std::string message = "-1 ";  // ready, nothing done yet
  sim::ProgramCache cache;
  for (;;) {
    world.send(0, kResult, message);
    int64_t point = -1;
    world.recv(0, kAssign, point);
    if (point < 0) return;
    message =
        fmt::format("{} ", point) + encode(run_point(points, static_cast<size_t>(point), cache));
  }
}

}  // namespace npusim::cli

#include "sim/memtest.h"

#include <fmt/format.h>

#include "common/error.h"
#include "memory/latency.h"
#include "memory/registry.h"
#include "memory/traffic_generator.h"
#include "sim/memories.h"
#include "sim/memory_system.h"
#include "sim/sim_context.h"

namespace npusim::sim {

MemtestReport run_memtest(const System& system, const MemtestOptions& o) {
  // The memory under test, alone (with its link) at address 0.
  const std::vector<MemoryRef> all = memories(system);
  const MemoryRef* chosen = &all.front();
  std::vector<std::string> names;
  for (const MemoryRef& m : all) {
    names.push_back(m.config->name());
    if (m.config->name() == o.memory) chosen = &m;
  }
  require(o.memory.empty() || chosen->config->name() == o.memory, "--memory", o.memory,
          fmt::format("not a memory of the system ({})", fmt::join(names, ", ")));
  System alone;
  *alone.mutable_memory() = *chosen->config;
  const MemoryConfig& config = alone.memory();
  const auto& entry = memory::MemoryRegistry::lookup(config, "memtest", chosen->path);
  const uint64_t placeable = entry.capacity_bytes(config);
  // An unlimited ideal memory: patterns cover 1 GiB.
  const uint64_t capacity = placeable == 0 ? uint64_t{1} << 30 : placeable;
  MemtestReport r;
  std::unique_ptr<memory::TrafficSource> source;
  if (!o.trace.empty()) {
    source = memory::load_trace(o.trace, placeable);
    r.set_pattern(o.trace);
  } else {
    memory::PatternConfig p;
    if (o.pattern == "sequential") {
      p.kind = memory::PatternConfig::Sequential;
    } else if (o.pattern == "random") {
      p.kind = memory::PatternConfig::Random;
    } else if (o.pattern == "strided") {
      p.kind = memory::PatternConfig::Strided;
    } else {
      throw UserError("--pattern: '" + o.pattern + "' is not one of sequential, random, strided");
    }
    require(o.request_bytes >= 1 && o.request_bytes <= (64u << 20), "--request-bytes",
            std::to_string(o.request_bytes), "must be between 1 and 64 MiB");
    require(o.read_fraction >= 0 && o.read_fraction <= 1, "--read-fraction",
            std::to_string(o.read_fraction), "must be between 0 and 1");
    require(o.requests >= 1, "--requests", std::to_string(o.requests), "must be >= 1");
    p.requests = o.requests;
    p.bytes = static_cast<uint32_t>(o.request_bytes);
    p.stride = o.stride != 0 ? o.stride : 4 * o.request_bytes;
    p.read_fraction = o.read_fraction;
    p.seed = o.seed;
    p.footprint = o.footprint != 0 ? o.footprint : capacity;
    require(p.footprint <= capacity, "--footprint", std::to_string(p.footprint),
            fmt::format("exceeds the memory's {} bytes", capacity));
    require(p.footprint >= p.bytes, "--footprint", std::to_string(p.footprint),
            "must hold one request");
    source = memory::make_pattern(p);
    r.set_pattern(o.pattern);
  }
  require(o.outstanding >= 1 && o.outstanding <= 65536, "--outstanding",
          std::to_string(o.outstanding), "must be between 1 and 65536");

  ScopedSimContext context;
  MemorySystem mem(alone);
  memory::TrafficGenerator gen("memtest", std::move(source), static_cast<uint32_t>(o.outstanding));
  gen.socket.bind(mem.socket());
  context.run();
  if (gen.error()) std::rethrow_exception(gen.error());
  require(gen.requests() > 0, o.trace, "requests", "no requests (every line blank or a comment)");

  r.set_memory(memory_model_name(config));
  r.set_requests(gen.requests());
  r.set_request_bytes(o.trace.empty() ? static_cast<uint32_t>(o.request_bytes) : 0);
  r.set_outstanding(static_cast<uint32_t>(o.outstanding));
  r.set_read_fraction(gen.requests() > 0
                          ? static_cast<double>(gen.reads()) / static_cast<double>(gen.requests())
                          : 0.0);
  const uint64_t span = gen.requests() == 0 ? 0 : gen.last_response_ps() - gen.first_issue_ps();
  r.set_seconds(static_cast<double>(span) * 1e-12);
  r.set_peak_bandwidth_gbps(mem.peak_bandwidth_gbps());
  r.set_achieved_bandwidth_gbps(span > 0 ? static_cast<double>(gen.bytes()) / r.seconds() / 1e9
                                         : 0.0);
  r.set_efficiency(r.achieved_bandwidth_gbps() / r.peak_bandwidth_gbps());
  *r.mutable_latency() = memory::latency_from_samples(gen.latencies_ns());
  mem.model(0).report(r.mutable_memory_stats());
  // From time 0 to the last response: the memory is powered before the
  // first request too.
  mem.energy(static_cast<double>(gen.requests() == 0 ? 0 : gen.last_response_ps()) * 1e-12,
             r.mutable_memory_stats()->mutable_energy());
  return r;
}

double sustained_bandwidth_gbps(const System& system) {
  MemtestOptions o;
  o.pattern = "sequential";
  o.request_bytes = system.core().dma().max_request_bytes();
  o.outstanding = system.core().dma().outstanding();
  // Enough requests to fill every channel many times over.
  o.requests = std::max<uint64_t>(4000, 32 * o.outstanding);
  return run_memtest(system, o).achieved_bandwidth_gbps();
}

}  // namespace npusim::sim

#include "sim/simulator.h"

#include <fmt/format.h>

#include <stdexcept>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <systemc>

#include "arch/chip_network.h"
#include "arch/npu_core.h"
#include "arch/program_check.h"
#include "common/error.h"
#include "common/integer.h"
#include "memory/registry.h"
#include "sim/config.h"
#include "sim/core_crossbar.h"
#include "sim/energy.h"
#include "sim/limiters.h"
#include "sim/memories.h"
#include "sim/memory_system.h"
#include "sim/roofline.h"
#include "sim/sim_context.h"

namespace npusim::sim {
namespace {

arch::CoreConfig core_config(const System& s) {
  arch::CoreConfig c;
  c.clock = sc_core::sc_time(1.0 / s.core_clock_ghz(), sc_core::SC_NS);
  c.dma.outstanding = s.core().dma().outstanding();
  c.dma.max_request_bytes = s.core().dma().max_request_bytes();
  c.dma.spm_bytes_per_cycle =
      uint64_t{s.core().scratchpad().banks()} * s.core().scratchpad().bank_width_bytes();
  c.matrix.array = array_shape(s);
  c.matrix.count = s.core().array().count();
  c.matrix.dataflow = s.core().array().dataflow();
  c.vector_lanes = s.core().vector().lanes();
  c.dma.requests_per_cycle = s.core().dma().requests_per_cycle();
  c.dma.outstanding_bytes = s.core().dma().outstanding_bytes();
  c.kernel_by_kernel = s.core().execution().kernel_by_kernel();
  c.launch_gap = sc_core::sc_time(s.core().execution().launch_gap_ns(), sc_core::SC_NS);
  c.dma.memories.clear();
  // A request and its response also cross the core's port, when it has one
  // (the first hop of its path; a mesh's further hops are not counted).
  for (const MemoryRef& m : memories(s)) {
    c.dma.memories.push_back({core_read_latency_ns(s, *m.config) * 1e3,
                              1e3 / core_peak_gbps(s, *m.config), m.config->has_pim()});
  }
  return c;
}

uint64_t to_cycles(uint64_t ps, uint64_t clock_ps) {
  return (ps + clock_ps / 2) / clock_ps;
}

void fill_unit(UnitStats* u, const char* name, const arch::Engine& e, uint64_t clock_ps,
               uint64_t total_cycles) {
  const auto& t = e.log().totals_ps();
  auto ps = [&t](arch::Activity a) { return t[static_cast<size_t>(a)]; };
  u->set_unit(name);
  u->set_busy_cycles(to_cycles(ps(arch::Activity::Busy), clock_ps));
  u->set_stall_memory_cycles(to_cycles(ps(arch::Activity::StallMemory), clock_ps));
  u->set_stall_dependency_cycles(
      to_cycles(ps(arch::Activity::StallMatrix) + ps(arch::Activity::StallVector) +
                    ps(arch::Activity::StallDependency) + ps(arch::Activity::StallKernel),
                clock_ps));
  u->set_stall_spm_space_cycles(to_cycles(ps(arch::Activity::StallSpmSpace), clock_ps));
  const uint64_t accounted = u->busy_cycles() + u->stall_memory_cycles() +
                             u->stall_dependency_cycles() + u->stall_spm_space_cycles();
  u->set_idle_cycles(total_cycles > accounted ? total_cycles - accounted : 0);
  u->set_instructions(e.executed());
}

arch::ChipNetworkConfig network_config(const System& s) {
  const Topology& t = s.topology();
  arch::ChipNetworkConfig c;
  c.chips = chip_count(s);
  c.cores = cores_per_chip(s);
  switch (t.chip_topology()) {
    case FULLY_CONNECTED:
      c.shape = arch::ChipNetworkConfig::Shape::Full;
      break;
    case TORUS_2D:
      c.shape = arch::ChipNetworkConfig::Shape::Torus;
      break;
    case SWITCH:
      c.shape = arch::ChipNetworkConfig::Shape::Switch;
      break;
    default:
      c.shape = arch::ChipNetworkConfig::Shape::Ring;
      break;
  }
  c.torus_x = t.torus_x();
  c.torus_y = t.torus_y();
  c.chip_link = t.chip_link();
  c.core_port = t.core_port();
  if (t.on_chip_network() == MESH_2D) {
    c.mesh = true;
    c.mesh_x = t.mesh_x();
    c.mesh_y = t.mesh_y();
    c.mesh_link = t.mesh_link();
    c.memory_nodes.assign(t.memory_nodes().begin(), t.memory_nodes().end());
    if (c.memory_nodes.empty()) c.memory_nodes.push_back(0);
    c.interleave_bytes = t.has_mesh_interleave_bytes() ? t.mesh_interleave_bytes() : 4096;
  }
  c.packet_bytes = s.core().dma().max_request_bytes();
  return c;
}

// One chip: its memories, its cores (bound to them, through a crossbar
// when there are several), the resources they register, their energy. A
// chip of several is a SystemC module of its own (`name`), so that each
// chip's modules have their own names; one chip's are top-level, as they
// always were. Of several cores, each one's resources are named after it.
class Chip {
 public:
  Chip(std::string chip_name, const System& sys, const Program& program,
       const arch::CoreConfig& config, uint32_t n_cores, arch::ChipNetwork* network,
       arch::MemoryImage* image, const SimulationInput& in)
      : name(std::move(chip_name)) {
    auto make = [&] { build(sys, program, config, n_cores, network, image, in); };
    if (name.empty()) {
      make();
    } else {
      module_ = std::make_unique<Module>(name.c_str(), make);
    }
  }
  ~Chip() {  // the models before their module
    power.reset();
    energy.reset();
    cores.clear();
    crossbar.reset();
    functional.clear();
    mem.reset();
  }
  Chip(const Chip&) = delete;
  Chip& operator=(const Chip&) = delete;

  [[nodiscard]] arch::NpuCore& core() const { return *cores.front(); }
  [[nodiscard]] uint64_t finish_ps() const {
    uint64_t t = 0;
    for (const auto& c : cores) t = std::max(t, c->finish_ps());
    return t;
  }

  const std::string name;
  ResourceLedger ledger;
  std::unique_ptr<MemorySystem> mem;
  std::vector<std::unique_ptr<arch::FunctionalCore>> functional;  // per core, functional mode
  std::unique_ptr<CoreCrossbar> crossbar;
  std::vector<std::unique_ptr<arch::NpuCore>> cores;
  std::unique_ptr<EnergyCounter> energy;
  std::unique_ptr<PowerMeter> power;
  TraceWriter::Chip* trace = nullptr;  // its tracks, when the run writes a trace

 private:
  void build(const System& sys, const Program& program, const arch::CoreConfig& config,
             uint32_t n_cores, arch::ChipNetwork* network, arch::MemoryImage* image,
             const SimulationInput& in) {
    mem = std::make_unique<MemorySystem>(sys);
    mem->register_resources(ledger);
    if (n_cores > 1 || sys.topology().has_core_port()) {
      crossbar = std::make_unique<CoreCrossbar>("crossbar", *network, config.core, n_cores);
    }
    std::vector<const arch::NpuCore*> views;
    for (uint32_t k = 0; k < n_cores; ++k) {
      arch::CoreConfig cc = config;
      cc.core = config.core + k;
      cc.ledger = &ledger;
      if (n_cores > 1) ledger.set_prefix(fmt::format("core{} ", cc.core));
      if (image != nullptr) {
        functional.push_back(std::make_unique<arch::FunctionalCore>(
            *image, sys.core().scratchpad().capacity_bytes(), in.program_where, &program));
        cc.functional = functional.back().get();
      }
      const std::string core_name = fmt::format("core{}", cc.core);
      cores.push_back(std::make_unique<arch::NpuCore>(core_name.c_str(), program, cc));
      if (crossbar != nullptr) {
        cores.back()->dma().socket.bind(crossbar->cores);
      } else {
        cores.back()->dma().socket.bind(mem->socket());
      }
      views.push_back(cores.back().get());
    }
    ledger.set_prefix("");
    if (crossbar != nullptr) crossbar->memory.bind(mem->socket());
    energy = std::make_unique<EnergyCounter>(sys, views, *mem);
    power = std::make_unique<PowerMeter>("power", *energy, views,
                                         sc_core::sc_time(in.power_window_us, sc_core::SC_US));
  }

  struct Module : sc_core::sc_module {
    Module(const sc_core::sc_module_name& n, const std::function<void()>& build)
        : sc_core::sc_module(n) {
      build();
    }
  };
  std::unique_ptr<Module> module_;
};

// Each chip's time, traffic, limiter and energy, and each network hop's.
void fill_network(const std::vector<std::unique_ptr<Chip>>& chips, const arch::ChipNetwork& network,
                  uint64_t end_ps, Report* r) {
  // Per resource that limited chips: their spans and busy share x span.
  std::map<std::string, std::pair<double, double>> held;
  for (size_t c = 0; c < chips.size(); ++c) {
    const Chip& chip = *chips[c];
    ChipStats* s = r->add_chips();
    s->set_chip(static_cast<uint32_t>(c));
    s->set_seconds(static_cast<double>(chip.finish_ps()) * 1e-12);
    uint64_t from = UINT64_MAX, sent = 0, read = 0;
    for (const auto& core : chip.cores) {
      from = std::min(
          {from, core->engine(MATRIX)->first_issue_ps(), core->engine(VECTOR)->first_issue_ps()});
      const auto& dma = core->dma().stats();
      sent += dma.sent_bytes;
      read += dma.read_bytes[WEIGHT] + dma.read_bytes[KV_CACHE] + dma.read_bytes[ACTIVATION];
    }
    const uint64_t idle_ps =
        from == UINT64_MAX ? end_ps : from + (end_ps - std::min(end_ps, chip.finish_ps()));
    s->set_computing_from(from == UINT64_MAX ? 0.0 : static_cast<double>(from) * 1e-12);
    s->set_idle_share(end_ps > 0 ? static_cast<double>(idle_ps) / static_cast<double>(end_ps)
                                 : 0.0);
    r->set_idle_share(r->idle_share() + s->idle_share() / static_cast<double>(chips.size()));
    s->set_bytes_sent(sent);
    s->set_bytes_read(read);
    // Its limiter while it computed (a pipeline stage idles most of a run;
    // a chip that computed nothing, over the whole run).
    const uint64_t finish = std::min(end_ps, chip.finish_ps());
    const Span active = from < finish ? Span{from, finish} : Span{0, end_ps};
    *s->mutable_limiter() = Limiters(chip.ledger, end_ps).limiter({active});
    auto& [ps, busy_ps] = held[s->limiter().resource()];
    ps += static_cast<double>(active.second - active.first);
    busy_ps += static_cast<double>(active.second - active.first) * s->limiter().busy_share();
    double joules = 0;
    for (const EnergyComponent& e : chip.energy->components(static_cast<double>(end_ps) * 1e-12)) {
      joules += e.joules();
    }
    s->set_joules(joules);
  }
  // The system's limiter: the one that held chips the longest.
  const auto most = std::max_element(held.begin(), held.end(), [](const auto& a, const auto& b) {
    return a.second.first < b.second.first;
  });
  if (most != held.end() && most->second.first > 0) {
    r->mutable_limiter()->set_resource(most->first);
    r->mutable_limiter()->set_busy_share(most->second.second / most->second.first);
  }
  for (const auto& h : network.stats()) {
    if (h.packets == 0) continue;
    NetworkHopStats* out = r->add_network();
    out->set_name(h.name);
    out->set_packets(h.packets);
    out->set_bytes(h.bytes);
    out->set_busy(end_ps > 0 ? h.busy_ps / static_cast<double>(end_ps) : 0.0);
  }
}

void fill_bytes(ClassBytes* out, const std::array<uint64_t, 4>& by_class) {
  out->set_weight(by_class[WEIGHT]);
  out->set_kv_cache(by_class[KV_CACHE]);
  out->set_activation(by_class[ACTIVATION]);
  out->set_total(by_class[WEIGHT] + by_class[KV_CACHE] + by_class[ACTIVATION]);
}

}  // namespace

uint32_t chip_count(const System& system) {
  return system.has_topology() && system.topology().has_chips() ? system.topology().chips() : 1;
}

uint32_t cores_per_chip(const System& system) {
  return system.has_topology() && system.topology().has_cores() ? system.topology().cores() : 1;
}

double memory_peak_gbps(const System& system) {
  double sum = 0;
  for (const MemoryRef& m : memories(system)) sum += reachable_peak_gbps(*m.config);
  return sum;
}

double memory_read_latency_ns(const System& system) {
  return reachable_read_latency_ns(*memories(system).front().config);
}

Report simulate(const SimulationInput& in) {
  const System& sys = *in.system;
  const Program& program = *in.program;
  arch::CoreLimits limits;
  limits.spm_capacity_bytes = sys.core().scratchpad().capacity_bytes();
  limits.memories.clear();
  for (const MemoryRef& m : memories(sys)) {
    arch::MemoryLimit& l = limits.memories.emplace_back();
    l.capacity_bytes = memory::MemoryRegistry::lookup(*m.config, in.system_where, m.path)
                           .capacity_bytes(*m.config);
    l.field = m.path + ".capacity_bytes";
    l.name = m.config->name();
    if (const auto pim = pim_spec_of(m, in.system_where)) l.pim = pim->geometry();
  }
  const uint32_t n_chips = chip_count(sys), per_chip = cores_per_chip(sys);
  limits.cores = n_chips * per_chip;
  const arch::ProgramFacts facts = arch::check_program(program, limits, in.program_where);

  ScopedSimContext context;
  // Several cores: on chips each with its memories, the cores sharing the
  // program's semaphores and joined by the chip network.
  std::unique_ptr<arch::ChipNetwork> network;
  std::unique_ptr<arch::SemaphoreBank> semaphores;
  std::vector<arch::MemoryImage> images;
  // (One core crosses the network only for its core_port, when it has one.)
  const bool core_port = sys.topology().has_core_port();
  if (n_chips * per_chip > 1 || core_port) {
    network = std::make_unique<arch::ChipNetwork>(network_config(sys));
  }
  if (n_chips * per_chip > 1) semaphores = std::make_unique<arch::SemaphoreBank>(program);
  if (n_chips > 1) {
    // Each chip has its own copy of the memories' contents.
    if (!in.chip_images.empty() && in.chip_images.size() != n_chips - 1) {
      throw std::logic_error("simulate: chip_images is not one per chip after the first");
    }
    if (in.memory_image != nullptr && in.chip_images.empty()) {
      images.reserve(n_chips - 1);
      for (uint32_t c = 1; c < n_chips; ++c) images.emplace_back(*in.memory_image);
    }
  }
  const arch::CoreConfig config = core_config(sys);
  std::vector<std::unique_ptr<Chip>> chips;
  for (uint32_t c = 0; c < n_chips; ++c) {
    arch::CoreConfig cc = config;
    cc.core = c * per_chip;
    cc.shared_semaphores = semaphores.get();
    cc.network = network.get();
    arch::MemoryImage* image = in.memory_image == nullptr ? nullptr
                               : c == 0                   ? in.memory_image
                               : !in.chip_images.empty()  ? in.chip_images[c - 1]
                                                          : &images[c - 1];
    chips.push_back(std::make_unique<Chip>(n_chips == 1 ? "" : fmt::format("chip{}", c), sys,
                                           program, cc, per_chip, network.get(), image, in));
  }
  if (network != nullptr) {
    std::vector<ResourceLedger*> ledgers;
    std::vector<arch::FunctionalCore*> functional;
    for (auto& chip : chips) {
      ledgers.push_back(&chip->ledger);
      for (auto& f : chip->functional) functional.push_back(f.get());
    }
    network->register_resources(ledgers);
    for (auto* f : functional) f->set_peers(functional);
  }
  Chip& first = *chips.front();
  arch::NpuCore* core = &first.core();
  MemorySystem* mem = first.mem.get();
  ResourceLedger& ledger = first.ledger;
  std::unique_ptr<TraceWriter> trace;
  if (in.trace != nullptr) {
    trace = std::make_unique<TraceWriter>(*in.trace, program);
    for (auto& chip : chips) {
      TraceWriter::Chip& t = trace->add_chip(n_chips, per_chip, chip->mem->trace_lanes());
      for (uint32_t k = 0; k < per_chip; ++k) chip->cores[k]->set_trace(&t.core(k));
      chip->mem->set_trace(&t);
      chip->power->observe([&t](uint64_t from_ps, uint64_t to_ps, double core_w, double memory_w) {
        t.power(from_ps, to_ps, core_w, memory_w);
      });
      chip->trace = &t;
    }
  }
  if (in.progress) {
    core->set_progress([&chips, &in] {
      uint64_t done = 0, total = 0;
      for (const auto& chip : chips) {
        for (const auto& c : chip->cores) {
          done += c->instructions_issued();
          total += c->instructions();
        }
      }
      in.progress(done, total, sc_core::sc_time_stamp().value());
    });
  }
  context.run();
  uint64_t end_ps = 0;
  double peak_w = 0;
  for (auto& chip : chips) {
    for (auto& owned : chip->cores) {
      arch::NpuCore& c = *owned;
      if (c.error()) std::rethrow_exception(c.error());
      if (!c.finished()) {
        std::string where;
        const std::string who = (n_chips == 1 ? "" : chip->name + " ") +
                                (per_chip == 1 ? "" : std::string(c.name()) + " ");
        for (Queue q : {DMA, MATRIX, VECTOR}) {
          where += fmt::format("\n  {}{}: {}", who, Queue_Name(q), c.engine(q)->where());
        }
        throw UserError(fmt::format("{}: the program deadlocked:{}", in.program_where, where));
      }
      end_ps = std::max(end_ps, c.finish_ps());
    }
  }
  for (auto& chip : chips) {
    for (auto& f : chip->functional) f->finish();
    peak_w += chip->power->finish(static_cast<double>(end_ps) * 1e-12);
  }
  if (trace != nullptr) {
    for (auto& chip : chips) chip->trace->resources(chip->ledger, end_ps);
    trace->finish(end_ps,
                  {sys.name(), mem->peak_bandwidth_gbps(),
                   static_cast<double>(sys.core().scratchpad().capacity_bytes()) / (1 << 20)});
  }

  const uint64_t clock_ps = config.clock.value();
  const uint64_t cycles = ceil_div(end_ps, clock_ps);
  Report r;
  r.set_system(sys.name());
  r.set_cycles(cycles);
  r.set_seconds(static_cast<double>(end_ps) * 1e-12);
  r.set_core_clock_ghz(sys.core_clock_ghz());

  const auto& dma = core->dma().stats();
  TrafficStats* traffic = r.mutable_traffic();
  fill_bytes(traffic->mutable_read(), dma.read_bytes);
  fill_bytes(traffic->mutable_written(), dma.written_bytes);
  fill_bytes(traffic->mutable_unique_read(), dma.unique_read_bytes);
  traffic->set_transactions(dma.transactions);
  const double bytes = static_cast<double>(traffic->read().total() + traffic->written().total());
  traffic->set_achieved_bandwidth_gbps(r.seconds() > 0 ? bytes / r.seconds() / 1e9 : 0.0);
  traffic->set_peak_bandwidth_gbps(mem->peak_bandwidth_gbps());
  traffic->set_unloaded_latency_ns(memory_read_latency_ns(sys));

  const auto& mx = core->matrix().stats();
  ComputeStats* compute = r.mutable_compute();
  compute->set_matrix_tiles(mx.tiles);
  compute->set_matrix_tile_cycles(mx.tile_cycles);
  compute->set_macs(mx.macs);
  const auto& a = sys.core().array();
  const double peak_macs = static_cast<double>(a.count()) * a.rows() * a.cols() * cycles;
  compute->set_array_utilization(peak_macs > 0 ? static_cast<double>(mx.macs) / peak_macs : 0.0);
  compute->set_array_occupancy(cycles > 0 ? static_cast<double>(mx.tile_cycles) /
                                                (static_cast<double>(a.count()) * cycles)
                                          : 0.0);
  compute->set_vector_ops(core->vector().stats().ops);
  compute->set_vector_cycles(core->vector().stats().cycles);
  compute->set_spm_peak_bytes(facts.spm_peak_bytes);

  const std::pair<const char*, Queue> units[] = {
      {"dma", DMA}, {"matrix", MATRIX}, {"vector", VECTOR}};
  const Limiters limiters(ledger, end_ps);
  limiters.fill_resources(&r);
  std::map<std::string, uint64_t> stalls;
  for (const auto& [name, q] : units) {
    UnitStats* u = r.add_units();
    fill_unit(u, name, *core->engine(q), clock_ps, cycles);
    limiters.fill_stalls(*core->engine(q), clock_ps, u);
    for (const StallCause& c : u->stalls()) stalls[c.cause()] += c.cycles();
    r.set_stall_memory_cycles(r.stall_memory_cycles() + u->stall_memory_cycles());
    r.set_stall_dependency_cycles(r.stall_dependency_cycles() + u->stall_dependency_cycles());
    r.set_stall_spm_space_cycles(r.stall_spm_space_cycles() + u->stall_spm_space_cycles());
  }
  for (const auto& [cause, n] : stalls) {
    StallCause* c = r.add_stalls();
    c->set_cause(cause);
    c->set_cycles(n);
  }
  std::stable_sort(
      r.mutable_stalls()->begin(), r.mutable_stalls()->end(),
      [](const StallCause& x, const StallCause& y) { return x.cycles() > y.cycles(); });
  mem->report(program, &r);
  std::vector<const EnergyCounter*> counters;
  for (const auto& chip : chips) counters.push_back(chip->energy.get());
  fill_energy(counters, network ? network->energy_joules() : 0.0, r.seconds(), peak_w,
              in.power_window_us, in.tokens, r.mutable_energy());
  fill_roofline(sys, program, core->profile(), in.memory_roof_gbps, limiters, &r);
  if (network != nullptr) fill_network(chips, *network, end_ps, &r);
  chips.clear();
  return r;
}

}  // namespace npusim::sim

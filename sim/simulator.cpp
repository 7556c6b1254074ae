#include "sim/simulator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <systemc>

#include "arch/npu_core.h"
#include "arch/program_check.h"
#include "common/error.h"
#include "memory/registry.h"
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
  c.matrix.array = {s.core().array().rows(), s.core().array().cols(),
                    s.core().array().double_buffered()};
  c.matrix.count = s.core().array().count();
  c.matrix.dataflow = s.core().array().dataflow();
  c.vector_lanes = s.core().vector().lanes();
  c.dma.requests_per_cycle = s.core().dma().requests_per_cycle();
  c.kernel_by_kernel = s.core().execution().kernel_by_kernel();
  c.launch_gap = sc_core::sc_time(s.core().execution().launch_gap_ns(), sc_core::SC_NS);
  c.dma.memories.clear();
  for (const MemoryRef& m : memories(s)) {
    c.dma.memories.push_back({reachable_read_latency_ns(*m.config) * 1e3,
                              1e3 / reachable_peak_gbps(*m.config), m.config->has_pim()});
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

void fill_bytes(ClassBytes* out, const std::array<uint64_t, 4>& by_class) {
  out->set_weight(by_class[WEIGHT]);
  out->set_kv_cache(by_class[KV_CACHE]);
  out->set_activation(by_class[ACTIVATION]);
  out->set_total(by_class[WEIGHT] + by_class[KV_CACHE] + by_class[ACTIVATION]);
}

}  // namespace

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
  const arch::ProgramFacts facts = arch::check_program(program, limits, in.program_where);

  ScopedSimContext context;
  auto mem = std::make_unique<MemorySystem>(sys);
  ResourceLedger ledger;
  mem->register_resources(ledger);
  arch::CoreConfig config = core_config(sys);
  config.ledger = &ledger;
  std::unique_ptr<arch::FunctionalCore> functional;
  if (in.memory_image != nullptr) {
    functional = std::make_unique<arch::FunctionalCore>(
        *in.memory_image, sys.core().scratchpad().capacity_bytes(), in.program_where, &program);
    config.functional = functional.get();
  }
  auto core = std::make_unique<arch::NpuCore>("core0", program, config);
  core->dma().socket.bind(mem->socket());
  std::unique_ptr<TraceWriter> trace;
  if (in.trace != nullptr) {
    trace = std::make_unique<TraceWriter>(*in.trace, program, mem->trace_lanes());
    core->set_trace(trace.get());
    mem->set_trace(trace.get());
  }
  const EnergyCounter energy(sys, *core, *mem);
  PowerMeter power("power", energy, *core, sc_core::sc_time(in.power_window_us, sc_core::SC_US));
  if (trace != nullptr) {
    TraceWriter* t = trace.get();
    power.observe([t](uint64_t from_ps, uint64_t to_ps, double core_w, double memory_w) {
      t->power(from_ps, to_ps, core_w, memory_w);
    });
  }
  if (in.progress) {
    arch::NpuCore* c = core.get();
    core->set_progress([c, &in] {
      in.progress(c->instructions_issued(), c->instructions(), sc_core::sc_time_stamp().value());
    });
  }
  context.run();
  if (core->error()) std::rethrow_exception(core->error());
  if (functional != nullptr) functional->finish();
  const double peak_w = power.finish(static_cast<double>(core->finish_ps()) * 1e-12);
  if (trace != nullptr) {
    trace->resources(ledger, core->finish_ps());
    trace->finish(core->finish_ps());
  }

  if (!core->finished()) {
    std::string where;
    for (Queue q : {DMA, MATRIX, VECTOR}) {
      where += fmt::format("\n  {}: {}", Queue_Name(q), core->engine(q)->where());
    }
    throw UserError(fmt::format("{}: the program deadlocked:{}", in.program_where, where));
  }

  const uint64_t clock_ps = config.clock.value();
  const uint64_t end_ps = core->finish_ps();
  const uint64_t cycles = (end_ps + clock_ps - 1) / clock_ps;
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
  fill_energy(energy, r.seconds(), peak_w, in.power_window_us, in.tokens, r.mutable_energy());
  fill_roofline(sys, program, core->profile(), in.memory_roof_gbps, limiters, &r);
  core.reset();
  mem.reset();
  return r;
}

}  // namespace npusim::sim

#include "sim/energy.h"

#include <algorithm>
#include <cmath>

namespace npusim::sim {
namespace {

double mac_pj(const EnergyConfig& e, DType dtype) {
  switch (dtype) {
    case FP32:
      return e.mac_fp32_pj();
    case FP16:
    case BF16:
      return e.mac_16bit_pj();
    case FP8:
      return e.mac_fp8_pj();
    case INT8:
      return e.mac_int8_pj();
    case INT4:
      return e.mac_int4_pj();
    default:
      return 0.0;
  }
}

EnergyComponent component(const char* name, double joules) {
  EnergyComponent c;
  c.set_name(name);
  c.set_joules(joules);
  return c;
}

}  // namespace

EnergyCounter::EnergyCounter(const System& system, std::vector<const arch::NpuCore*> cores,
                             const MemorySystem& memory)
    : config_(system.core().energy()), cores_(std::move(cores)), memory_(memory) {
  const auto& a = system.core().array();
  const auto n = static_cast<double>(cores_.size());
  array_static_w_ = n * static_cast<double>(a.count()) * a.rows() * a.cols() *
                    config_.array_static_uw_per_pe() * 1e-6;
  vector_static_w_ =
      n * system.core().vector().lanes() * config_.vector_static_mw_per_lane() * 1e-3;
  spm_static_w_ = n * static_cast<double>(system.core().scratchpad().capacity_bytes()) /
                  (1024.0 * 1024.0) * config_.spm_static_mw_per_mib() * 1e-3;
}

std::vector<EnergyComponent> EnergyCounter::components(double seconds) const {
  // As of `seconds`: what the tile and the vector op still running then
  // have left is not spent yet.
  const auto t_ps = static_cast<uint64_t>(std::llround(seconds * 1e12));
  double mac_joules = 0, element_passes = 0, sram_bytes = 0;
  for (const arch::NpuCore* core : cores_) {
    const auto& mx = core->matrix().stats();
    const arch::MatrixUnit::Pending mp = core->matrix().pending_at(t_ps);
    for (size_t d = 0; d < mx.macs_by_dtype.size(); ++d) {
      mac_joules += (static_cast<double>(mx.macs_by_dtype[d]) - mp.macs_by_dtype[d]) *
                    mac_pj(config_, static_cast<DType>(d)) * 1e-12;
    }
    const auto& vx = core->vector().stats();
    const arch::VectorUnit::Pending vp = core->vector().pending_at(t_ps);
    element_passes += static_cast<double>(vx.element_passes) - vp.element_passes;
    const auto& dma = core->dma().stats();
    double dma_bytes = 0;
    for (size_t c = 0; c < dma.read_bytes.size(); ++c) {
      dma_bytes += static_cast<double>(dma.read_bytes[c] + dma.written_bytes[c]);
    }
    // Every byte a unit reads or writes in the scratchpad, and every byte
    // the DMA puts there or takes from it.
    sram_bytes +=
        static_cast<double>(mx.spm_bytes + vx.spm_bytes) - mp.spm_bytes - vp.spm_bytes + dma_bytes;
  }
  MemoryEnergy m;
  memory_.energy(seconds, &m);
  std::vector<EnergyComponent> out = {
      component("arrays.mac", mac_joules),
      component("arrays.static", array_static_w_ * seconds),
      component("vector.ops", element_passes * config_.vector_pj_per_element() * 1e-12),
      component("vector.static", vector_static_w_ * seconds),
      component("sram.access", sram_bytes * config_.sram_pj_per_byte() * 1e-12),
      component("sram.static", spm_static_w_ * seconds),
      component("other.static", config_.other_static_w() * seconds),
      component("memory.activate", m.activate()),
      component("memory.read_write", m.read_write()),
      component("memory.io", m.io()),
      component("memory.refresh", m.refresh()),
      component("memory.background", m.background())};
  if (memory_.has_links()) out.push_back(component("memory.link", m.link()));
  return out;
}

EnergyCounter::Split EnergyCounter::split(double seconds) const {
  Split s;
  for (const auto& c : components(seconds)) {
    (c.name().rfind("memory.", 0) == 0 ? s.memory : s.core) += c.joules();
  }
  return s;
}

PowerMeter::PowerMeter(const sc_core::sc_module_name& name, const EnergyCounter& counter,
                       std::vector<const arch::NpuCore*> cores, sc_core::sc_time window)
    : sc_core::sc_module(name), counter_(counter), cores_(std::move(cores)), window_(window) {
  // A member, not a local of run(): a thread's stack is not unwound when
  // the simulation ends, and the list holds memory.
  for (const arch::NpuCore* core : cores_) finished_ |= core->queue_finished();
  SC_THREAD(run);
}

void PowerMeter::run() {
  sc_core::sc_time next = window_;
  for (;;) {
    wait(next - sc_core::sc_time_stamp(), finished_);
    // Done (so the run ends where it would without the meter), or nothing
    // else is left to happen: a deadlock.
    const bool done = std::all_of(cores_.begin(), cores_.end(),
                                  [](const arch::NpuCore* c) { return c->finished(); });
    if (done || !sc_core::sc_pending_activity()) return;
    if (sc_core::sc_time_stamp() < next) continue;  // one queue finished
    sample(sc_core::sc_time_stamp().to_seconds());
    next += window_;
    next = skip_idle(next);
  }
}

// Counters change only at events (and static power accrues evenly): when no
// event is scheduled for whole windows after `next` and the energy grows at
// one rate over them, those windows draw the same power, and one sample at
// the end of them stands for all. The meter then wakes O(events) times, not
// O(simulated time / window) (a slow memory with a 1 ns window would wake
// billions of times).
sc_core::sc_time PowerMeter::skip_idle(sc_core::sc_time next) const {
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const sc_core::sc_time event = now + sc_core::sc_time_to_pending_activity();
  if (event <= next + window_) return next;
  const sc_core::sc_time end =
      next + window_ * static_cast<double>((event - next).value() / window_.value());
  const double t0 = now.to_seconds(), t1 = next.to_seconds(), t2 = end.to_seconds();
  const EnergyCounter::Split a = counter_.split(t0), b = counter_.split(t1), c = counter_.split(t2);
  const double first = (b.core + b.memory) - (a.core + a.memory);
  const double all = (c.core + c.memory) - (a.core + a.memory);
  const double expected = first * (t2 - t0) / (t1 - t0);
  return std::fabs(all - expected) <= 1e-9 * std::max(std::fabs(expected), 1e-30) ? end : next;
}

void PowerMeter::sample(double now) {
  const EnergyCounter::Split e = counter_.split(now);
  const double span = now - last_seconds_;
  const double core_w = (e.core - last_.core) / span, memory_w = (e.memory - last_.memory) / span;
  peak_w_ = std::max(peak_w_, core_w + memory_w);
  if (observer_) {
    observer_(static_cast<uint64_t>(std::llround(last_seconds_ * 1e12)),
              static_cast<uint64_t>(std::llround(now * 1e12)), core_w, memory_w);
  }
  last_seconds_ = now;
  last_ = e;
}

double PowerMeter::finish(double end_seconds) {
  const double rest = end_seconds - last_seconds_;
  if (rest <= 0) return peak_w_;
  if (rest < window_.to_seconds() / 2 && last_seconds_ > 0) {
    // Too short to stand for a window: reported, but not a peak.
    const double peak = peak_w_;
    sample(end_seconds);
    peak_w_ = peak;
    return peak_w_;
  }
  sample(end_seconds);
  return peak_w_;
}

void fill_energy(const std::vector<const EnergyCounter*>& counters, double network_joules,
                 double seconds, double peak_w, double window_us, uint64_t tokens, Energy* out) {
  double joules = 0;
  for (size_t i = 0; i < counters.size(); ++i) {
    const std::vector<EnergyComponent> components = counters[i]->components(seconds);
    for (size_t k = 0; k < components.size(); ++k) {  // names and order fixed
      joules += components[k].joules();
      if (i == 0) {
        *out->add_components() = components[k];
      } else {
        EnergyComponent* c = out->mutable_components(static_cast<int>(k));
        c->set_joules(c->joules() + components[k].joules());
      }
    }
  }
  if (counters.size() > 1) {
    EnergyComponent* c = out->add_components();
    c->set_name("network.links");
    c->set_joules(network_joules);
    joules += network_joules;
  }
  for (auto& c : *out->mutable_components()) c.set_share(joules > 0 ? c.joules() / joules : 0.0);
  out->set_joules(joules);
  out->set_average_w(seconds > 0 ? joules / seconds : 0.0);
  out->set_peak_w(std::max(peak_w, out->average_w()));
  out->set_window_us(window_us);
  if (tokens > 0 && joules > 0) {
    out->set_joules_per_token(joules / static_cast<double>(tokens));
    out->set_tokens_per_joule(static_cast<double>(tokens) / joules);
  }
}

}  // namespace npusim::sim

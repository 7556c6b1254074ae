#include "memory/pim/pim_memory.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "memory/pim/pim_request.h"
#include "memory/registry.h"

namespace npusim::memory::pim {

using dram::Command;

PimMemory::PimMemory(const sc_core::sc_module_name& name, const PimSpec& spec,
                     uint64_t capacity_bytes)
    : DramMemory(name, spec.dram, capacity_bytes), pim_(spec) {
  for (uint32_t c = 0; c < spec_.total_channels(); ++c) {
    pim_channels_.push_back(std::make_unique<PimChannel>(
        pim_, [this](uint32_t gemv, uint64_t clock) { finished(gemv, clock); }));
    channels_[c]->set_exclusive(pim_channels_.back().get());
  }
}

void PimMemory::accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) {
  if (const auto* g = trans.get_extension<PimGemv>()) {
    gemv(trans, *g, arrival_ps);
  } else if (const auto* w = trans.get_extension<PimWrite>()) {
    write(trans, *w, arrival_ps);
  } else {
    DramMemory::accept(trans, arrival_ps);
  }
}

bool PimMemory::refuse(bool bad, tlm::tlm_generic_payload& trans, tlm::tlm_response_status status,
                       uint64_t arrival_ps) {
  if (!bad) return false;
  trans.set_response_status(status);
  respond(trans, arrival_ps);
  return true;
}

std::optional<PimLayout> PimMemory::region(tlm::tlm_generic_payload& trans, uint64_t base,
                                           uint32_t out_rows, uint32_t in_cols, uint32_t eb,
                                           uint32_t blocks, bool shape_ok, uint64_t arrival_ps) {
  const bool ok = shape_ok && out_rows > 0 && in_cols > 0 && blocks > 0 && eb > 0 &&
                  spec_.burst_bytes() % eb == 0 && PimRegion::aligned(pim_, base);
  if (refuse(!ok, trans, tlm::TLM_GENERIC_ERROR_RESPONSE, arrival_ps)) return std::nullopt;
  const PimGeometry geometry = pim_.geometry();
  const PimLayout layout(geometry, static_cast<uint32_t>(base / geometry.stripe_bytes()), out_rows,
                         in_cols, eb, blocks);
  if (refuse(base > capacity_bytes_ || layout.region_bytes() > capacity_bytes_ - base, trans,
             tlm::TLM_ADDRESS_ERROR_RESPONSE, arrival_ps)) {
    return std::nullopt;
  }
  return layout;
}

void PimMemory::gemv(tlm::tlm_generic_payload& trans, const PimGemv& g, uint64_t arrival_ps) {
  const uint64_t base = trans.get_address();
  const std::optional<PimLayout> layout =
      region(trans, base, g.out_rows, g.in_cols, g.element_bytes, g.blocks,
             g.vectors > 0 && g.block < g.blocks, arrival_ps);
  if (!layout) return;
  const PimGeometry geometry = pim_.geometry();
  const auto base_row = static_cast<uint32_t>(base / geometry.stripe_bytes());
  const uint32_t id = gemvs_.take();
  const uint64_t arrival = clock_of(arrival_ps);
  Gemv& r = gemvs_[id];
  r.trans = &trans;
  r.done_clock = arrival;
  r.channels_left = 0;
  // (Channels answer only when stepped, after this returns.)
  for (uint32_t c = 0; c < geometry.channels; ++c) {
    const uint32_t groups = layout->groups_on(c, g.block);
    if (groups == 0) continue;
    ++r.channels_left;
    PimJob job;
    job.request = id;
    job.arrival = arrival;
    job.base_row = base_row + layout->first_slot_on(c, g.block) * layout->chunks();
    job.groups = groups;
    job.chunks = layout->chunks();
    job.last_columns = layout->last_chunk_columns();
    job.vectors = g.vectors;
    job.element_bytes = g.element_bytes;
    pim_channels_[c]->push(job);
    channels_[c]->exclusive_arrived(arrival);
    wake(c, arrival);
  }
}

void PimMemory::write(tlm::tlm_generic_payload& trans, const PimWrite& w, uint64_t arrival_ps) {
  const uint64_t first = trans.get_address(), bytes = trans.get_data_length();
  const uint32_t eb = w.element_bytes;
  const uint64_t matrix = uint64_t{w.out_rows} * w.in_cols;
  // Whole elements within the region's logical bytes.
  const bool inside = eb > 0 && first >= w.region && (first - w.region) % eb == 0 &&
                      bytes % eb == 0 && bytes > 0 &&
                      (first - w.region + bytes) / eb <= matrix * w.blocks;
  const std::optional<PimLayout> layout =
      region(trans, w.region, w.out_rows, w.in_cols, eb, w.blocks, inside, arrival_ps);
  if (!layout) return;
  // The bursts the elements fall in, consecutive columns of a row in one run
  // (a key's elements), each element of a column of outputs its own (a
  // value's: one masked burst per bank).
  runs_.clear();
  run_channels_.clear();
  const uint64_t begin = (first - w.region) / eb, end = begin + bytes / eb;
  for (uint64_t e = begin; e < end; ++e) {
    const auto block = static_cast<uint32_t>(e / matrix);
    const uint64_t i = e % matrix;
    const auto m = static_cast<uint32_t>(w.outputs_major ? i / w.in_cols : i % w.out_rows);
    const auto k = static_cast<uint32_t>(w.outputs_major ? i % w.in_cols : i / w.out_rows);
    const PimPlace p = layout->place(m, k, block);
    if (!runs_.empty() && run_channels_.back() == p.channel && runs_.back().bank == p.bank &&
        runs_.back().row == p.row) {
      dram::Burst& run = runs_.back();
      if (run.column + run.count - 1 == p.column) continue;  // the same burst
      if (spec_.row_granular && run.column + run.count == p.column) {
        ++run.count;
        continue;
      }
    }
    dram::Burst b;
    b.bank = static_cast<uint16_t>(p.bank);
    b.row = p.row;
    b.column = static_cast<uint16_t>(p.column);
    b.write = true;
    runs_.push_back(b);
    run_channels_.push_back(p.channel);
  }
  uint32_t bursts = 0;
  for (const dram::Burst& b : runs_) bursts += b.count;
  const uint64_t arrival = clock_of(arrival_ps);
  const uint32_t id = open_request(trans, arrival, bursts);
  for (size_t i = 0; i < runs_.size(); ++i) {
    dram::Burst b = runs_[i];
    b.arrival = arrival;
    b.request = id;
    b.as_unit = b.count > 1;
    enqueue_on(run_channels_[i], b);
  }
}

void PimMemory::finished(uint32_t gemv, uint64_t clock) {
  Gemv& r = gemvs_[gemv];
  r.done_clock = std::max(r.done_clock, clock);
  if (--r.channels_left == 0) {
    r.trans->set_response_status(tlm::TLM_OK_RESPONSE);
    respond(*r.trans, spec_.ps_of(r.done_clock));
    gemvs_.release(gemv);
    ++answered_;
  }
}

void PimMemory::register_resources(ResourceLedger& ledger) {
  DramMemory::register_resources(ledger);
  double peak = 0;
  for (const uint32_t eb : {1u, 2u, 4u}) {
    if (spec_.burst_bytes() % eb == 0) peak = std::max(peak, pim_.macs_per_second(eb));
  }
  const auto macs = ledger.add_resource(
      {resource_name("PIM MACs"), ResourcePath::Memory, "MAC", peak * 1e-12,
       fmt::format("{} units x a column of elements per max(nCCDAB, the unit's cycles) = {:.4g} "
                   "TMAC/s",
                   pim_.total_units(), peak * 1e-12),
       ""});
  // A channel's units open a row in every bank at most once per tRC.
  const double channels = spec_.total_channels();
  const auto rows = ledger.add_resource(
      {resource_name("PIM rows"), ResourcePath::Memory, "ACTAB", channels / spec_.RC / spec_.tck_ps,
       fmt::format("{} channels x 1 all-bank row per tRC ({} clocks)", spec_.total_channels(),
                   spec_.RC),
       ""});
  for (auto& p : pim_channels_) p->set_resources(&ledger, macs, rows, resources_.bus);
}

void PimMemory::report(MemoryReport* out) const {
  DramMemory::report(out);
  PimStats* p = out->mutable_pim();
  p->set_preset(pim_.name);
  const auto count = [&](Command c) {
    uint64_t n = 0;
    for (const auto& ch : channels_) n += ch->stats().commands[static_cast<size_t>(c)];
    return n;
  };
  p->set_actab(count(Command::ACTAB));
  p->set_macab(count(Command::MACAB));
  p->set_prea(count(Command::PREA));
  p->set_wrgb(count(Command::WRGB));
  p->set_rdres(count(Command::RDRES));
  for (const auto& ch : pim_channels_) {
    const PimChannelStats& s = ch->stats();
    p->set_mode_switches(p->mode_switches() + s.mode_switches);
    p->set_macs(p->macs() + s.macs);
    p->set_pim_cycles(p->pim_cycles() + s.busy_cycles);
  }
  p->set_gemvs(answered_);
  p->set_peak_tflops(2 * pim_.macs_per_second(2) * 1e-12);
}

void PimMemory::energy(double seconds, MemoryEnergy* out) const {
  DramMemory::energy(seconds, out);
  // PIM commands are counted as planned (up to a plan window ahead).
  const DramEnergy& e = spec_.energy;
  double actab = 0, macab = 0, bus_bursts = 0, macs = 0;
  for (const auto& ch : channels_) {
    const auto& c = ch->stats().commands;
    actab += static_cast<double>(c[static_cast<size_t>(Command::ACTAB)]);
    macab += static_cast<double>(c[static_cast<size_t>(Command::MACAB)]);
    bus_bursts += static_cast<double>(c[static_cast<size_t>(Command::WRGB)] +
                                      c[static_cast<size_t>(Command::RDRES)]);
  }
  for (const auto& ch : pim_channels_) macs += static_cast<double>(ch->stats().macs);
  const double burst_bits = static_cast<double>(spec_.burst_bytes()) * 8;
  const double joules =
      actab * pim_.actab_acts * e.act_nj() * 1e-9 +
      macab * pim_.macab_reads * burst_bits * e.read_pj_per_bit() * 1e-12 +
      bus_bursts * burst_bits * (e.write_pj_per_bit() + e.io_pj_per_bit()) * 1e-12 +
      macs * pim_.mac_pj * 1e-12;
  out->set_pim(joules);
  out->set_total(out->total() + joules);
}

namespace {

// The DRAM the PIM memory is built on, as a DRAM MemoryConfig.
MemoryConfig as_dram(const MemoryConfig& config, const std::string& where,
                     const std::string& path) {
  MemoryConfig m;
  m.set_capacity_bytes(config.capacity_bytes());
  *m.mutable_dram() = resolve_config(config.pim(), where, path).dram();
  return m;
}

const MemoryModelEntry& dram_entry() {
  MemoryConfig dram;
  dram.mutable_dram();
  return MemoryRegistry::lookup(dram, "pim", "memory");
}

MemoryModelEntry entry() {
  MemoryModelEntry e;
  e.validate = [](const MemoryConfig& config, const std::string& where, const std::string& path) {
    (void)resolve_spec(config.pim(), where, path + ".pim");
    dram_entry().validate(as_dram(config, where, path + ".pim"), where, path + ".pim");
  };
  e.create = [](const sc_core::sc_module_name& name,
                const MemoryConfig& config) -> std::unique_ptr<MemoryModel> {
    const MemoryConfig dram = as_dram(config, "pim", "memory.pim");
    return std::make_unique<PimMemory>(name, resolve_spec(config.pim(), "pim", "memory.pim"),
                                       dram_entry().capacity_bytes(dram));
  };
  e.peak_bandwidth_gbps = [](const MemoryConfig& config) {
    return dram_entry().peak_bandwidth_gbps(as_dram(config, "pim", "memory.pim"));
  };
  e.capacity_bytes = [](const MemoryConfig& config) {
    return dram_entry().capacity_bytes(as_dram(config, "pim", "memory.pim"));
  };
  e.read_latency_ns = [](const MemoryConfig& config) {
    return dram_entry().read_latency_ns(as_dram(config, "pim", "memory.pim"));
  };
  e.interleave = [](const MemoryConfig& config) {
    return dram_entry().interleave(as_dram(config, "pim", "memory.pim"));
  };
  return e;
}

}  // namespace

NPUSIM_REGISTER_MEMORY(pim, entry());

}  // namespace npusim::memory::pim

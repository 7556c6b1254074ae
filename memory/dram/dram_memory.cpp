#include "memory/dram/dram_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/integer.h"
#include "memory/latency.h"
#include "memory/registry.h"

namespace npusim::memory::dram {

// (Inlined into the controllers' callback below: every row ends here.)
[[gnu::always_inline]] inline void DramMemory::done(uint32_t request, uint32_t bursts,
                                                    uint64_t clock) {
  Request& r = requests_[request];
  r.done_clock = std::max(r.done_clock, clock);
  r.bursts_left -= bursts;
  if (r.bursts_left == 0) {
    respond(*r.trans, spec_.ps_of(r.done_clock));
    requests_.release(request);
  }
}

void DramMemory::row_done(uint32_t channel, uint32_t request, uint32_t bursts, uint64_t clock) {
  if (traffic_sink_ != nullptr) {
    traffic_sink_->transferred(channel / spec_.channels, spec_.ps_of(clock),
                               uint64_t{bursts} * spec_.burst_bytes());
  }
  done(request, bursts, clock);
}

DramMemory::DramMemory(const sc_core::sc_module_name& name, const DramSpec& spec,
                       uint64_t capacity_bytes)
    : MemoryModel(name),
      spec_(spec),
      mapping_(spec_, "dram", "address_mapping"),
      capacity_bytes_(capacity_bytes != 0 ? std::min(capacity_bytes, mapping_.capacity_bytes())
                                          : mapping_.capacity_bytes()),
      waiting_(spec_.total_channels()),
      held_back_(spec_.total_channels(), 0),
      wakes_(spec_.total_channels()),
      run_slots_(size_t{spec_.total_channels()} * spec_.banks()) {
  for (uint32_t c = 0; c < spec_.total_channels(); ++c) {
    channels_.push_back(
        std::make_unique<ChannelController>(spec_, static_cast<ChannelOwner&>(*this), c));
  }
  SC_METHOD(run);
  sensitive << event_;
  dont_initialize();
}

uint64_t DramMemory::clock_of(uint64_t ps) const {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(ps) / spec_.tck_ps - 1e-9));
}

uint64_t DramMemory::current_clock() const {
  // The clock whose edge is the latest at or before now. spec_.ps_of() rounds an
  // edge up to whole ps, so now may sit just after its edge: floor, not ceil.
  return static_cast<uint64_t>(std::floor(static_cast<double>(now_ps()) / spec_.tck_ps + 1e-9));
}

void DramMemory::wake(uint32_t channel, uint64_t clock) {
  if (clock >= wakes_.clock(channel)) return;
  wakes_.set(channel, clock);
  if (clock < event_clock_) {
    event_clock_ = clock;
    const uint64_t at = spec_.ps_of(clock), now = now_ps();
    event_.notify(sc_core::sc_time::from_value(at > now ? at - now : 0));
  }
}

void DramMemory::accept(tlm::tlm_generic_payload& trans, uint64_t arrival_ps) {
  const uint64_t first = trans.get_address();
  const uint64_t bytes = trans.get_data_length();
  const uint64_t bb = spec_.burst_bytes();
  if (first > capacity_bytes_ || bytes > capacity_bytes_ - first) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    respond(trans, arrival_ps);
    return;
  }
  const uint64_t arrival = clock_of(arrival_ps);
  const bool write = trans.is_write();
  const uint64_t begin = first / bb * bb;
  const uint32_t id =
      open_request(trans, arrival, static_cast<uint32_t>(ceil_div(first + bytes - begin, bb)));
  if (!spec_.row_granular || bytes < spec_.row_bytes()) {
    // Burst by burst, the address walked rather than decoded each time.
    AddressMapping::Cursor cursor(mapping_, begin);
    for (uint64_t a = begin;;) {
      const DramAddress d = cursor.address();
      enqueue_on(d.channel, Burst::of(arrival, d.bank, d.row, d.column, id, 1, write, false));
      if ((a += bb) >= first + bytes) break;
      cursor.next();
    }
    return;
  }
  // Fast path: aligned blocks of the mapping's row_block() hold whole rows
  // only, which go in as one entry each; in the partial blocks at either end,
  // the bursts are grouped by (channel, bank, row) into runs of consecutive
  // columns, each one entry that the controller plans as a unit too (a row
  // split into single bursts would wait behind every planned row).
  const uint64_t end = first + bytes;
  const uint64_t block = mapping_.row_block() * bb;
  const uint64_t mid_begin = std::min(round_up(begin, block), end);
  const uint64_t mid_end = std::max(mid_begin, end / block * block);
  group_bursts(begin, mid_begin, Burst::of(arrival, 0, 0, 0, id, 1, write, false));
  if (mid_begin < mid_end) {
    // The rows' first bursts, in address order: walked, not decoded each.
    const uint64_t rows = mapping_.row_block() / spec_.columns;
    AddressMapping::Cursor cursor(mapping_, mid_begin);
    const auto whole_row = [&](const DramAddress& d) {
      enqueue_on(d.channel, Burst::of(arrival, d.bank, d.row, 0, id, spec_.columns, write, true));
    };
    if (rows == 1) {  // a block is a row (the column digits lowest): block by block
      for (uint64_t b0 = mid_begin / bb; b0 < mid_end / bb; b0 += mapping_.row_block()) {
        if (b0 != mid_begin / bb) cursor.next_block();
        whole_row(cursor.address());
      }
    } else {
      uint64_t at = mid_begin / bb;
      for (uint64_t b0 = mid_begin / bb; b0 < mid_end / bb; b0 += mapping_.row_block()) {
        for (uint64_t k = 0; k < rows; ++k) {
          const uint64_t to = b0 + mapping_.row_in_block(k);
          cursor.advance(to - at);
          at = to;
          whole_row(cursor.address());
        }
      }
    }
  }
  group_bursts(mid_end, end, Burst::of(arrival, 0, 0, 0, id, 1, write, false));
}

// Queues the bursts of [from, to) (burst aligned at `from`) as entries like
// `proto`: bursts grouped by (channel, bank, row) into runs of consecutive
// columns, one entry each, planned as a unit, in address order.
void DramMemory::group_bursts(uint64_t from, uint64_t to, const Burst& proto) {
  if (from >= to) return;
  const uint64_t bb = spec_.burst_bytes();
  runs_.clear();
  run_channels_.clear();
  ++epoch_;
  const uint64_t run_bytes = mapping_.column_run() * bb;
  AddressMapping::Cursor cursor(mapping_, from);
  for (uint64_t a = from; a < to;) {
    const DramAddress d = cursor.address();
    // Bursts up to the next run boundary share channel, bank and row.
    const uint64_t step = std::min((a / run_bytes + 1) * run_bytes, to) - a;
    const auto n = static_cast<uint32_t>(ceil_div(step, bb));
    a += n * bb;
    cursor.advance(n);
    // The run this request is building in the bank, if any (direct mapped).
    Slot& slot = run_slots_[size_t{d.channel} * spec_.banks() + d.bank];
    if (slot.epoch == epoch_) {
      Burst& run = runs_[slot.run];
      if (run.row == d.row && run.column + run.count == d.column) {
        run.count += n;
        continue;
      }
    }
    slot = {epoch_, runs_.size()};
    Burst run = proto;
    run.bank = static_cast<uint16_t>(d.bank);
    run.row = d.row;
    run.column = static_cast<uint16_t>(d.column);
    run.count = n;
    runs_.push_back(run);
    run_channels_.push_back(d.channel);
  }
  for (size_t i = 0; i < runs_.size(); ++i) {
    Burst run = runs_[i];
    // Planned as a unit, like a whole row; a lone burst goes burst by burst.
    // (A unit takes its slots in a lane of the data bus, and a lane is not
    // backfilled: one-burst units waiting for their ACTs would hold the
    // lanes while hits to open rows wait behind them, where FR-FCFS serves
    // those hits first. A mapping that puts each burst of a request in
    // another bank, 'ro co ba bg st ch', streamed at 167 GB/s so, against
    // 816 burst by burst.)
    run.as_unit = run.count > 1;
    enqueue_on(run_channels_[i], run);
  }
}

void DramMemory::enqueue_on(uint32_t channel, const Burst& burst) {
  ChannelController& c = *channels_[channel];
  if (!held_back_[channel] && c.can_accept(burst.write, burst.arrival)) {  // straight in
    if (burst.as_unit && wakes_.clock(channel) > burst.arrival) {
      // Nothing of this channel is due before the row arrives: plan it now
      // rather than through the event loop (the step it would get).
      const uint64_t next = c.arrive(burst, burst.arrival);
      if (next < wakes_.clock(channel)) wake(channel, next);
      return;
    }
    c.enqueue(burst, burst.arrival);
    wake(channel, burst.arrival);
    return;
  }
  waiting_[channel].push_back(burst);
  held_back_[channel] = 1;
  c.waiting(burst.count, burst.arrival);
  admit(channel, burst.arrival, burst.arrival);
}

// Moves waiting bursts into the controller's queue while it has room; the
// controller then looks at them at `look` at the latest.
void DramMemory::admit(uint32_t channel, uint64_t now, uint64_t look) {
  if (move_waiting(channel, now)) wake(channel, look);
}

bool DramMemory::move_waiting(uint32_t channel, uint64_t now) {
  auto& wait = waiting_[channel];
  ChannelController& c = *channels_[channel];
  bool added = false;
  while (!wait.empty() && c.can_accept(wait.front().write, now)) {
    Burst b = wait.front();
    wait.pop_front();
    c.waiting(-static_cast<int64_t>(b.count), now);
    if (now > b.arrival) {  // it waited for room
      b.waited =
          static_cast<uint32_t>(std::min<uint64_t>(UINT32_MAX, b.waited + (now - b.arrival)));
      b.arrival = now;
    }
    c.enqueue(b, now);
    added = true;
  }
  held_back_[channel] = !wait.empty();
  return added;
}

uint32_t DramMemory::open_request(tlm::tlm_generic_payload& trans, uint64_t arrival,
                                  uint32_t bursts) {
  const uint32_t id = requests_.take();
  Request& r = requests_[id];
  r.trans = &trans;
  r.done_clock = arrival;
  r.bursts_left = bursts;
  return id;
}

void DramMemory::run() {
  const uint64_t now = current_clock();
  event_clock_ = 0;  // no notifications while stepping: one at the end
  for (uint64_t t; (t = wakes_.top_clock()) <= now;) {
    const uint32_t channel = wakes_.take(t);
    // Bursts waiting for room that the channel has again at this clock (its
    // first planned row retired) enter its queue first, and this step plans
    // them, as a controller takes a request the clock its queue has room.
    (void)move_waiting(channel, now);
    const uint64_t next = channels_[channel]->step(now);
    if (next == kNever && !channels_[channel]->idle()) {
      throw std::logic_error(fmt::format(
          "DRAM channel {} went to sleep with requests queued at clock {}", channel, now));
    }
    if (next <= now) {
      throw std::logic_error(
          fmt::format("DRAM channel {} asked to be stepped again at clock {}", channel, now));
    }
    wakes_.set(channel, next);
    // Room the step made (a burst issued) goes to waiting bursts; they are
    // looked at next clock, this clock's command slot being used.
    if (channels_[channel]->issued_column()) admit(channel, now, now + 1);
    // Bursts still waiting for room the planned rows hold: the channel
    // looks again when the first of them retires (a step that filled the
    // queue with planned rows may have nothing else to wake for).
    if (held_back_[channel]) {
      wake(channel, std::max(now + 1, channels_[channel]->room_clock()));
    }
  }
  event_clock_ = kNever;
  if (const uint64_t next = wakes_.top_clock(); next != WakeQueue::kNone) {
    event_clock_ = next;
    const uint64_t at = spec_.ps_of(event_clock_), ps = now_ps();
    event_.notify(sc_core::sc_time::from_value(at > ps ? at - ps : 0));
  }
}

namespace {

// Counters of `s` into `c`; the mean queue occupancy divides by `channels`
// when `s` sums that many channels.
void fill(DramChannelStats* c, const ChannelStats& s, uint64_t cycles, double ns_per_clock,
          size_t channels, uint32_t banks) {
  c->set_act(s.commands[static_cast<size_t>(Command::ACT)]);
  c->set_pre(s.commands[static_cast<size_t>(Command::PRE)]);
  c->set_rd(s.commands[static_cast<size_t>(Command::RD)]);
  c->set_wr(s.commands[static_cast<size_t>(Command::WR)]);
  c->set_ref(s.commands[static_cast<size_t>(Command::REFab)] +
             s.commands[static_cast<size_t>(Command::REFpb)]);
  c->set_row_hits(s.row_hits);
  c->set_row_misses(s.row_misses);
  c->set_row_conflicts(s.row_conflicts);
  c->set_read_bytes(s.read_bytes);
  c->set_write_bytes(s.write_bytes);
  c->set_data_cycles(s.data_cycles);
  c->set_refresh_cycles(s.refresh_bank_cycles / banks);
  c->set_mean_queue_occupancy(cycles > 0 ? static_cast<double>(s.occupancy_sum) /
                                               static_cast<double>(cycles * channels)
                                         : 0.0);
  c->set_max_queue_occupancy(s.occupancy_max);
  *c->mutable_read_latency() = latency_from_histogram(s.read_latency, ns_per_clock);
}

void add(ChannelStats& sum, const ChannelStats& s) {
  for (size_t i = 0; i < kCommands; ++i) sum.commands[i] += s.commands[i];
  sum.row_hits += s.row_hits;
  sum.row_misses += s.row_misses;
  sum.row_conflicts += s.row_conflicts;
  sum.read_bytes += s.read_bytes;
  sum.write_bytes += s.write_bytes;
  sum.data_cycles += s.data_cycles;
  sum.refresh_bank_cycles += s.refresh_bank_cycles;
  sum.occupancy_sum += s.occupancy_sum;
  sum.occupancy_max = std::max(sum.occupancy_max, s.occupancy_max);
  sum.read_latency.resize(std::max(sum.read_latency.size(), s.read_latency.size()), 0);
  for (size_t b = 0; b < s.read_latency.size(); ++b) sum.read_latency[b] += s.read_latency[b];
}

}  // namespace

void DramMemory::register_resources(ResourceLedger& ledger) {
  const double channels = spec_.total_channels();
  ChannelResources r;
  r.ledger = &ledger;
  r.bus = ledger.add_resource(
      {resource_name("DRAM bus"), ResourcePath::Memory, "clocks", channels / spec_.tck_ps,
       fmt::format("{} channels x 1 clock of data per clock", spec_.total_channels()), ""});
  // The fastest a channel opens rows when every ACT goes to another bank:
  // one per tRRD_S, four per tFAW, each bank once per tRC.
  const double acts_per_clock =
      std::min({static_cast<double>(spec_.banks()) / spec_.RC, 4.0 / spec_.FAW, 1.0 / spec_.RRD_S});
  r.act = ledger.add_resource(
      {resource_name("DRAM activations"), ResourcePath::Memory, "ACT",
       channels * acts_per_clock / spec_.tck_ps,
       fmt::format("{} channels x min(banks/tRC, 4/tFAW, 1/tRRD_S) = {:.4g} ACT per clock each",
                   spec_.total_channels(), acts_per_clock),
       ""});
  for (auto& c : channels_) c->set_resources(r);
  resources_ = r;
}

void DramMemory::energy(double seconds, MemoryEnergy* out) const {
  // Counted as of `seconds`, not as planned (this runs at every power sample).
  const auto clock = static_cast<uint64_t>(seconds * 1e12 / static_cast<double>(spec_.tck_ps));
  double acts = 0, read_bits = 0, write_bits = 0, refreshes = 0;
  for (const auto& c : channels_) {
    const ChannelController::EnergyCounts e = c->energy_counts(clock);
    acts += static_cast<double>(e.acts);
    read_bits += static_cast<double>(e.read_bytes) * 8;
    write_bits += static_cast<double>(e.write_bytes) * 8;
    // A per-bank refresh does one bank's share of an all-bank one.
    refreshes += static_cast<double>(e.refab) + static_cast<double>(e.refpb) / spec_.banks();
  }
  const DramEnergy& e = spec_.energy;
  out->set_activate(acts * e.act_nj() * 1e-9);
  out->set_read_write((read_bits * e.read_pj_per_bit() + write_bits * e.write_pj_per_bit()) *
                      1e-12);
  out->set_io((read_bits + write_bits) * e.io_pj_per_bit() * 1e-12);
  out->set_refresh(refreshes * e.refresh_nj() * 1e-9);
  out->set_background(e.background_mw() * 1e-3 * spec_.total_channels() * seconds);
  out->set_total(out->activate() + out->read_write() + out->io() + out->refresh() +
                 out->background());
}

std::vector<std::string> DramMemory::trace_lanes() const {
  std::vector<std::string> lanes;
  for (uint32_t s = 0; s < spec_.stacks; ++s) lanes.push_back(fmt::format("stack {}", s));
  return lanes;
}

void DramMemory::report(MemoryReport* out) const {
  DramStats* d = out->mutable_dram();
  d->set_preset(spec_.name);
  d->set_tck_ns(spec_.tck_ps * 1e-3);
  const uint64_t cycles = current_clock();
  d->set_cycles(cycles);
  const double ns_per_clock = spec_.tck_ps * 1e-3;
  ChannelStats sum;
  for (size_t i = 0; i < channels_.size(); ++i) {
    DramChannelStats* c = d->add_channels();
    c->set_channel(static_cast<uint32_t>(i));
    fill(c, channels_[i]->stats(), cycles, ns_per_clock, 1, spec_.banks());
    add(sum, channels_[i]->stats());
  }
  DramChannelStats* total = d->mutable_total();
  fill(total, sum, cycles, ns_per_clock, channels_.size(), spec_.banks());
  total->set_channel(static_cast<uint32_t>(channels_.size()));
  const uint64_t bursts = sum.row_hits + sum.row_misses + sum.row_conflicts;
  d->set_row_hit_rate(bursts > 0 ? static_cast<double>(sum.row_hits) / static_cast<double>(bursts)
                                 : 0.0);
  if (cycles > 0) {
    const double channel_cycles = static_cast<double>(channels_.size()) * cycles;
    d->set_refresh_overhead(static_cast<double>(sum.refresh_bank_cycles) / spec_.banks() /
                            channel_cycles);
    d->set_data_bus_utilization(static_cast<double>(sum.data_cycles) / channel_cycles);
  }
}

namespace {

// Bytes of the devices that hold data: usable_bytes, or all they address.
uint64_t device_bytes(const MemoryConfig& config, const std::string& where,
                      const std::string& path) {
  const DramConfig dram = resolve_config(config.dram(), where, path + ".dram");
  // usable_bytes is each device's (a stack's, a module's).
  return dram.has_usable_bytes()
             ? dram.usable_bytes() * std::max<uint64_t>(1, dram.stacks())
             : resolve_spec(config.dram(), where, path + ".dram").capacity_bytes();
}

// Bytes programs may address: capacity_bytes, or the devices'.
uint64_t capacity_bytes(const MemoryConfig& config) {
  return config.capacity_bytes() != 0 ? config.capacity_bytes()
                                      : device_bytes(config, "dram", "memory");
}

// Bursts a channel serves in a row before the address moves on.
uint64_t column_run(const DramSpec& spec) {
  return AddressMapping(spec, "dram", "memory.dram.address_mapping").column_run();
}

MemoryModelEntry entry() {
  MemoryModelEntry e;
  e.validate = [](const MemoryConfig& config, const std::string& where, const std::string& path) {
    const DramSpec spec = resolve_spec(config.dram(), where, path + ".dram");
    const AddressMapping mapping(spec, where, path + ".dram.address_mapping");
    const uint64_t devices = device_bytes(config, where, path);
    require(devices <= mapping.capacity_bytes(), where, path + ".dram.usable_bytes",
            fmt::format("{} bytes exceed the {} bytes the organisation addresses", devices,
                        mapping.capacity_bytes()));
    require(config.capacity_bytes() <= devices, where, path + ".capacity_bytes",
            fmt::format("{} bytes exceed the devices' {} bytes", config.capacity_bytes(), devices));
  };
  e.create = [](const sc_core::sc_module_name& name,
                const MemoryConfig& config) -> std::unique_ptr<MemoryModel> {
    return std::make_unique<DramMemory>(name, resolve_spec(config.dram(), "dram", "memory.dram"),
                                        capacity_bytes(config));
  };
  e.peak_bandwidth_gbps = [](const MemoryConfig& config) {
    return resolve_spec(config.dram(), "dram", "memory.dram").peak_gbps();
  };
  e.capacity_bytes = [](const MemoryConfig& config) { return capacity_bytes(config); };
  e.read_latency_ns = [](const MemoryConfig& config) {
    // What a request of a stream of short ones sees: a row miss (ACT, RD
    // after tRCD, data after tCL) and the bursts ahead of it in its row on
    // the same channel (the mapping's run of consecutive columns). An
    // estimate for the compiler, checked against memtest in test_dram.cpp.
    const DramSpec spec = resolve_spec(config.dram(), "dram", "memory.dram");
    return static_cast<double>(spec.RCD_RD + spec.CL + column_run(spec) * spec.burst_cycles) *
           spec.tck_ps * 1e-3;
  };
  e.interleave = [](const MemoryConfig& config) {
    // A channel serves the mapping's run of consecutive columns (a row on
    // the row-interleaved presets) before the next address moves on.
    const DramSpec spec = resolve_spec(config.dram(), "dram", "memory.dram");
    return MemoryModelEntry::Interleave{spec.total_channels(),
                                        column_run(spec) * spec.burst_bytes()};
  };
  return e;
}

}  // namespace

NPUSIM_REGISTER_MEMORY(dram, entry());

}  // namespace npusim::memory::dram

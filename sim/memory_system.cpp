#include "sim/memory_system.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/address_space.h"
#include "memory/registry.h"
#include "sim/memories.h"

namespace npusim::sim {
namespace {

// Passes a model's traffic on to the trace, its lanes after `offset`.
class OffsetSink : public memory::TrafficSink {
 public:
  OffsetSink(memory::TrafficSink* to, uint32_t offset) : to_(to), offset_(offset) {}
  void transferred(uint32_t lane, uint64_t end_ps, uint64_t bytes) override {
    to_->transferred(offset_ + lane, end_ps, bytes);
  }

 private:
  memory::TrafficSink* to_;
  uint32_t offset_;
};

void add_energy(const MemoryEnergy& e, MemoryEnergy* sum) {
  sum->set_activate(sum->activate() + e.activate());
  sum->set_read_write(sum->read_write() + e.read_write());
  sum->set_io(sum->io() + e.io());
  sum->set_refresh(sum->refresh() + e.refresh());
  sum->set_background(sum->background() + e.background());
  sum->set_link(sum->link() + e.link());
  if (e.has_pim()) sum->set_pim(sum->pim() + e.pim());
  sum->set_total(sum->total() + e.total());
}

}  // namespace

MemorySystem::MemorySystem(const System& system) : system_(system) {
  const std::vector<MemoryRef> all = memories(system);
  const bool routed = has_interconnect(system);
  std::vector<const LinkConfig*> links;
  for (const MemoryRef& m : all) {
    const auto& entry = memory::MemoryRegistry::lookup(*m.config, "system", m.path);
    // One memory keeps its old module name ("memory") and resource names.
    models_.push_back(entry.create(routed ? m.config->name().c_str() : "memory", *m.config));
    if (all.size() > 1) models_.back()->set_label(m.config->name());
    links.push_back(m.config->has_link() ? &m.config->link() : nullptr);
  }
  if (routed) {
    interconnect_ = std::make_unique<memory::Interconnect>("interconnect", links);
    for (auto& model : models_) interconnect_->memories.bind(model->socket);
  }
}

MemorySystem::~MemorySystem() = default;

tlm::tlm_base_target_socket<>& MemorySystem::socket() {
  if (interconnect_ != nullptr) return interconnect_->socket;
  return models_.front()->socket;
}

void MemorySystem::register_resources(ResourceLedger& ledger) {
  for (auto& model : models_) model->register_resources(ledger);
  if (interconnect_ != nullptr) interconnect_->register_resources(ledger);
}

std::vector<std::string> MemorySystem::trace_lanes() const {
  if (interconnect_ == nullptr) return models_.front()->trace_lanes();
  std::vector<std::string> lanes;
  for (const auto& model : models_) {
    for (const std::string& lane : model->trace_lanes())
      lanes.push_back(fmt::format("{}: {}", model->basename(), lane));
  }
  for (const std::string& lane : interconnect_->trace_lanes()) lanes.push_back(lane);
  return lanes;
}

void MemorySystem::set_trace(memory::TrafficSink* sink) {
  if (interconnect_ == nullptr) {
    models_.front()->set_trace(sink);
    return;
  }
  uint32_t offset = 0;
  for (auto& model : models_) {
    lane_sinks_.push_back(std::make_unique<OffsetSink>(sink, offset));
    model->set_trace(lane_sinks_.back().get());
    offset += static_cast<uint32_t>(model->trace_lanes().size());
  }
  interconnect_->set_trace(sink, offset);
}

const memory::Link* MemorySystem::link(size_t i) const {
  return interconnect_ != nullptr ? interconnect_->link(static_cast<uint32_t>(i)) : nullptr;
}

void MemorySystem::memory_energy(size_t i, double seconds, MemoryEnergy* out) const {
  models_[i]->energy(seconds, out);
  if (const memory::Link* l = link(i)) {
    out->set_link(l->energy_joules());
    out->set_total(out->total() + out->link());
  }
}

void MemorySystem::energy(double seconds, MemoryEnergy* out) const {
  if (interconnect_ == nullptr) {
    models_.front()->energy(seconds, out);
    return;
  }
  for (size_t i = 0; i < models_.size(); ++i) {
    MemoryEnergy e;
    memory_energy(i, seconds, &e);
    add_energy(e, out);
  }
}

bool MemorySystem::has_links() const {
  for (size_t i = 0; i < models_.size(); ++i) {
    if (link(i) != nullptr) return true;
  }
  return false;
}

double MemorySystem::peak_bandwidth_gbps() const {
  // Every memory at once, each capped by its link.
  double sum = 0;
  for (size_t i = 0; i < models_.size(); ++i) {
    const double own = models_[i]->peak_bandwidth_gbps();
    sum += link(i) != nullptr ? std::min(own, link(i)->config().bandwidth_gbps()) : own;
  }
  return sum;
}

void MemorySystem::report(const Program& program, Report* out) const {
  const double seconds = out->seconds();
  if (interconnect_ == nullptr) {
    models_.front()->report(out->mutable_memory());
    models_.front()->energy(seconds, out->mutable_memory()->mutable_energy());
    return;
  }
  energy(seconds, out->mutable_memory()->mutable_energy());
  std::vector<uint64_t> placed(models_.size(), 0);
  for (const TensorRef& t : program.tensors()) {
    const uint32_t m = memory_of(t.dram_addr());
    if (m < placed.size()) placed[m] += t.bytes();
  }
  const std::vector<MemoryRef> all = memories(system_);
  for (size_t i = 0; i < models_.size(); ++i) {
    const auto m = static_cast<uint32_t>(i);
    const MemoryConfig& c = *all[i].config;
    MemoryTierStats* s = out->add_memories();
    s->set_name(c.name());
    s->set_model(memory_model_name(c));
    s->set_capacity_bytes(
        memory::MemoryRegistry::lookup(c, "system", all[i].path).capacity_bytes(c));
    s->set_placed_bytes(placed[i]);
    const auto& port = interconnect_->stats(m);
    s->set_read_bytes(port.read_bytes);
    s->set_written_bytes(port.written_bytes);
    s->set_transactions(port.transactions);
    const double bytes = static_cast<double>(port.read_bytes + port.written_bytes);
    s->set_achieved_bandwidth_gbps(seconds > 0 ? bytes / seconds * 1e-9 : 0.0);
    s->set_peak_bandwidth_gbps(models_[i]->peak_bandwidth_gbps());
    s->set_busy(s->peak_bandwidth_gbps() > 0
                    ? s->achieved_bandwidth_gbps() / s->peak_bandwidth_gbps()
                    : 0.0);
    models_[i]->report(s->mutable_stats());
    memory_energy(i, seconds, s->mutable_stats()->mutable_energy());
    if (const memory::Link* link = this->link(i)) {
      LinkStats* l = s->mutable_link();
      const memory::Link::Stats ls = link->stats();
      l->set_name(link->config().name());
      l->set_bandwidth_gbps(link->config().bandwidth_gbps());
      l->set_latency_ns(link->config().latency_ns());
      l->set_transactions(ls.transactions);
      l->set_bytes_to_memory(ls.bytes_to_memory);
      l->set_bytes_from_memory(ls.bytes_from_memory);
      const double capacity = link->config().bandwidth_gbps() * 1e9 * seconds;
      l->set_busy_to_memory(capacity > 0 ? ls.bytes_to_memory / capacity : 0.0);
      l->set_busy_from_memory(capacity > 0 ? ls.bytes_from_memory / capacity : 0.0);
      l->set_joules(link->energy_joules());
    }
  }
}

}  // namespace npusim::sim

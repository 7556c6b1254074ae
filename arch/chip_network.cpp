#include "arch/chip_network.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "common/integer.h"

namespace npusim::arch {

namespace {
constexpr uint32_t kNone = UINT32_MAX;
}

uint32_t ChipNetwork::add_hop(const std::string& name, const LinkConfig& link, uint32_t chip) {
  Hop h;
  h.name = name;
  h.chip = chip;
  h.ps_per_byte = link.bandwidth_gbps() > 0 ? 1000.0 / link.bandwidth_gbps() : 0;
  h.latency_ps = static_cast<uint64_t>(std::llround(link.latency_ns() * 1000));
  h.header_bytes = link.header_bytes();
  h.pj_per_bit = link.pj_per_bit();
  h.stats.name = name;
  hops_.push_back(h);
  return static_cast<uint32_t>(hops_.size() - 1);
}

ChipNetwork::ChipNetwork(const ChipNetworkConfig& config) : config_(config) {
  const uint32_t n = config.chips;
  for (uint32_t c = 0; c < n * config.cores; ++c) {
    const std::string core =
        config.chips == 1 ? fmt::format("core {}", c)
                          : fmt::format("chip {} core {}", c / config.cores, c % config.cores);
    port_out_.push_back(add_hop(core + " port out", config.core_port, c / config.cores));
    port_in_.push_back(add_hop(core + " port in", config.core_port, c / config.cores));
  }
  if (config.mesh) {
    const uint32_t x = config.mesh_x, y = config.mesh_y;
    if (uint64_t{x} * y != config.cores) throw std::logic_error("chip network: mesh is not cores");
    const std::string mesh = config.mesh_link.name().empty() ? "mesh" : config.mesh_link.name();
    mesh_hop_.assign(size_t{n} * config.cores * 4, kNone);
    for (uint32_t chip = 0; chip < n; ++chip) {
      for (uint32_t a = 0; a < config.cores; ++a) {
        const uint32_t ax = a % x, ay = a / x;
        const std::array<std::pair<bool, uint32_t>, 4> to = {
            {{ax + 1 < x, a + 1}, {ax > 0, a - 1}, {ay + 1 < y, a + x}, {ay > 0, a - x}}};
        for (size_t d = 0; d < 4; ++d) {
          if (!to[d].first) continue;
          mesh_hop_[(size_t{chip} * config.cores + a) * 4 + d] =
              add_hop(n == 1 ? fmt::format("{} {}->{}", mesh, a, to[d].second)
                             : fmt::format("chip {} {} {}->{}", chip, mesh, a, to[d].second),
                      config.mesh_link, chip);
        }
      }
    }
  }
  const std::string name = config.chip_link.name().empty() ? "chip link" : config.chip_link.name();
  link_of_.assign(size_t{n} * n, kNone);
  const auto join = [&](uint32_t a, uint32_t b) {
    if (a == b || link_of_[size_t{a} * n + b] != kNone) return;
    link_of_[size_t{a} * n + b] =
        add_hop(fmt::format("{} {}->{}", name, a, b), config.chip_link, a);
  };
  using Shape = ChipNetworkConfig::Shape;
  switch (config.shape) {
    case Shape::Ring:
      for (uint32_t a = 0; a < n; ++a) {
        join(a, (a + 1) % n);
        join((a + 1) % n, a);
      }
      break;
    case Shape::Full:
      for (uint32_t a = 0; a < n; ++a) {
        for (uint32_t b = 0; b < n; ++b) join(a, b);
      }
      break;
    case Shape::Torus: {
      const uint32_t x = config.torus_x, y = config.torus_y;
      for (uint32_t a = 0; a < n; ++a) {
        const uint32_t ax = a % x, ay = a / x;
        for (const uint32_t b : {ay * x + (ax + 1) % x, ay * x + (ax + x - 1) % x,
                                 (ay + 1) % y * x + ax, (ay + y - 1) % y * x + ax}) {
          join(a, b);
        }
      }
      break;
    }
    case Shape::Switch:
      // Chip a's port up to the switch is link_of_[a * n + a]'s slot taken by
      // the up direction; down ports follow.
      for (uint32_t a = 0; a < n; ++a) {
        link_of_[size_t{a} * n + a] =
            add_hop(fmt::format("{} {}->switch", name, a), config.chip_link, a);
      }
      switch_down_.resize(n);
      for (uint32_t a = 0; a < n; ++a) {
        switch_down_[a] = add_hop(fmt::format("{} switch->{}", name, a), config.chip_link, a);
      }
      break;
  }
}

uint32_t ChipNetwork::link(uint32_t a, uint32_t b) const {
  const uint32_t h = link_of_[size_t{a} * config_.chips + b];
  if (h == kNone) throw std::logic_error(fmt::format("chip network: no link {} -> {}", a, b));
  return h;
}

std::vector<uint32_t> ChipNetwork::route(uint32_t a, uint32_t b) const {
  std::vector<uint32_t> r;
  if (a == b) return r;
  const uint32_t n = config_.chips;
  using Shape = ChipNetworkConfig::Shape;
  switch (config_.shape) {
    case Shape::Ring: {
      const uint32_t forward = (b + n - a) % n;
      const bool up = forward <= n - forward;  // ties go forward
      for (uint32_t c = a; c != b;) {
        const uint32_t next = up ? (c + 1) % n : (c + n - 1) % n;
        r.push_back(link(c, next));
        c = next;
      }
      break;
    }
    case Shape::Full:
      r.push_back(link(a, b));
      break;
    case Shape::Torus: {
      const uint32_t x = config_.torus_x, y = config_.torus_y;
      uint32_t cx = a % x, cy = a / x;
      const uint32_t bx = b % x, by = b / x;
      while (cx != bx) {  // x first, the nearer way
        const uint32_t fwd = (bx + x - cx) % x;
        const uint32_t nx = fwd <= x - fwd ? (cx + 1) % x : (cx + x - 1) % x;
        r.push_back(link(cy * x + cx, cy * x + nx));
        cx = nx;
      }
      while (cy != by) {
        const uint32_t fwd = (by + y - cy) % y;
        const uint32_t ny = fwd <= y - fwd ? (cy + 1) % y : (cy + y - 1) % y;
        r.push_back(link(cy * x + cx, ny * x + cx));
        cy = ny;
      }
      break;
    }
    case Shape::Switch:
      r.push_back(link_of_[size_t{a} * n + a]);
      r.push_back(switch_down_[b]);
      break;
  }
  return r;
}

void ChipNetwork::mesh_route(uint32_t chip, uint32_t from, uint32_t to,
                             std::vector<uint32_t>& path) const {
  if (!config_.mesh) return;
  const uint32_t x = config_.mesh_x;
  uint32_t at = from;
  const auto step = [&](size_t dir, uint32_t next) {
    path.push_back(mesh_hop_.at((size_t{chip} * config_.cores + at) * 4 + dir));
    at = next;
  };
  while (at % x < to % x) step(0, at + 1);
  while (at % x > to % x) step(1, at - 1);
  while (at / x < to / x) step(2, at + x);
  while (at / x > to / x) step(3, at - x);
}

uint64_t ChipNetwork::send(uint64_t t_ps, uint32_t from, uint32_t to, uint64_t bytes) {
  std::vector<uint32_t> path{port_out_.at(from)};
  const uint32_t a = from / config_.cores, b = to / config_.cores;
  const uint32_t from_node = from % config_.cores, to_node = to % config_.cores;
  // On a mesh: to the other core's node, or through node 0's chip links.
  mesh_route(a, from_node, a == b ? to_node : 0, path);
  for (const uint32_t h : route(a, b)) path.push_back(h);
  if (a != b) mesh_route(b, 0, to_node, path);
  path.push_back(port_in_.at(to));
  const uint64_t packet = std::max<uint64_t>(1, config_.packet_bytes);
  const uint64_t packets = std::max<uint64_t>(1, ceil_div(bytes, packet));
  double last = static_cast<double>(t_ps);
  for (uint64_t p = 0; p < packets; ++p) {
    const uint64_t payload = std::min(packet, bytes - std::min(bytes, p * packet));
    double at = static_cast<double>(t_ps);  // every packet is ready at once
    for (const uint32_t i : path) at = cross(hops_[i], at, payload);
    last = std::max(last, at);
  }
  return static_cast<uint64_t>(std::ceil(last - 1e-6));
}

double ChipNetwork::cross(Hop& h, double at, uint64_t payload) {
  const uint64_t wire = payload + h.header_bytes;
  const double start = std::max(at, h.free_ps);
  const double busy = static_cast<double>(wire) * h.ps_per_byte;
  h.free_ps = start + busy;
  ++h.stats.packets;
  h.stats.bytes += wire;
  h.stats.busy_ps += busy;
  if (h.ledger != nullptr && busy > 0) {
    h.ledger->add(h.column, static_cast<uint64_t>(start), static_cast<uint64_t>(start + busy),
                  static_cast<double>(wire));
  }
  return start + busy + static_cast<double>(h.latency_ps);
}

uint64_t ChipNetwork::cross_all(const std::vector<uint32_t>& path, uint64_t t_ps, uint64_t bytes) {
  auto at = static_cast<double>(t_ps);
  for (const uint32_t h : path) at = cross(hops_[h], at, bytes);
  return static_cast<uint64_t>(std::ceil(at - 1e-6));
}

// (Per memory request: the path is built in a vector kept for it.)
uint64_t ChipNetwork::to_memory(uint64_t t_ps, uint32_t core, uint64_t bytes, uint64_t address) {
  path_.assign(1, port_out_.at(core));
  if (config_.mesh)
    mesh_route(core / config_.cores, core % config_.cores, memory_node(address), path_);
  return cross_all(path_, t_ps, bytes);
}

uint64_t ChipNetwork::from_memory(uint64_t t_ps, uint32_t core, uint64_t bytes, uint64_t address) {
  path_.clear();
  if (config_.mesh)
    mesh_route(core / config_.cores, memory_node(address), core % config_.cores, path_);
  path_.push_back(port_in_.at(core));
  return cross_all(path_, t_ps, bytes);
}

void ChipNetwork::register_resources(const std::vector<ResourceLedger*>& ledgers) {
  for (Hop& h : hops_) {
    if (h.ps_per_byte <= 0 || h.chip >= ledgers.size()) continue;  // unlimited: never a limit
    h.ledger = ledgers[h.chip];
    h.column = h.ledger->add_resource(
        {h.name, ResourcePath::Memory, "B", 1.0 / h.ps_per_byte,
         fmt::format("{:.4g} GB/s per direction", 1000.0 / h.ps_per_byte), ""});
  }
}

std::vector<ChipNetwork::HopStats> ChipNetwork::stats() const {
  std::vector<HopStats> s;
  for (const Hop& h : hops_) s.push_back(h.stats);
  return s;
}

double ChipNetwork::energy_joules() const {
  double j = 0;
  for (const Hop& h : hops_) j += static_cast<double>(h.stats.bytes) * 8 * h.pj_per_bit * 1e-12;
  return j;
}

}  // namespace npusim::arch

// The network between the cores of a system (sim/system.proto Topology):
// chips joined by links in a ring, fully connected, as a 2-D torus or
// through a switch, and each core's port into its chip's network. A send
// (isa.proto SendOp) goes out in packets of at most `packet_bytes`; each
// packet crosses the source core's port, then the chip links on its route
// (shortest: around the ring the nearer way, the torus x then y, a switch
// up and down), then the destination core's port, each a store-and-forward
// hop: it occupies the hop's direction for (packet + header) / bandwidth,
// one packet after another, and reaches the next hop the hop's latency
// later. So a message pipelines over its hops, and sends sharing a link
// direction queue behind each other: a collective's time emerges from the
// links. A core's requests to its chip's memories, and their responses,
// cross its port too (a crossbar behind the ports: sim/core_crossbar.h).
// Within a chip the cores may instead sit on a 2-D mesh: a packet then
// crosses the mesh links on its XY route between its core's node and the
// node of the memory its address is interleaved to (or of the core it is
// sent to, or node 0, where the chip links attach), each link direction a
// store-and-forward hop like any other.
// Every link direction is a resource the limiter accounting names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/resources.h"
#include "memory/memory.pb.h"

namespace npusim::arch {

struct ChipNetworkConfig {
  uint32_t chips = 1, cores = 1;  // cores per chip
  enum class Shape : uint8_t { Ring, Full, Torus, Switch } shape = Shape::Ring;
  uint32_t torus_x = 1, torus_y = 1;
  LinkConfig chip_link;
  LinkConfig core_port;  // bandwidth 0: unlimited, no latency
  uint64_t packet_bytes = 4096;
  // A 2-D mesh within each chip (cores = mesh_x x mesh_y), its memories at
  // `memory_nodes`, addresses interleaved over them every interleave_bytes.
  bool mesh = false;
  uint32_t mesh_x = 1, mesh_y = 1;
  LinkConfig mesh_link;
  std::vector<uint32_t> memory_nodes{0};
  uint64_t interleave_bytes = 4096;
};

class ChipNetwork {
 public:
  explicit ChipNetwork(const ChipNetworkConfig& config);

  // `bytes` leave core `from` at `t_ps` for core `to`: when the last packet
  // has landed, ps. Bytes 0: one header-only packet (a credit).
  uint64_t send(uint64_t t_ps, uint32_t from, uint32_t to, uint64_t bytes);
  // A memory request of core `core` leaves through its port at `t_ps`
  // (`bytes`: a write's data; a read's request is its header alone): when
  // it is through, ps. Its response comes back in through the port the
  // same way (`bytes`: a read's data).
  // On a mesh, `address` picks the memory node it goes to.
  uint64_t to_memory(uint64_t t_ps, uint32_t core, uint64_t bytes, uint64_t address = 0);
  uint64_t from_memory(uint64_t t_ps, uint32_t core, uint64_t bytes, uint64_t address = 0);

  // Each hop in the ledger of the chip it leaves (`ledgers`, one per chip):
  // a chip link's out of its source chip, a core port in its core's.
  void register_resources(const std::vector<ResourceLedger*>& ledgers);

  struct HopStats {
    std::string name;
    uint64_t packets = 0, bytes = 0;  // payload and headers
    double busy_ps = 0;
  };
  [[nodiscard]] std::vector<HopStats> stats() const;
  [[nodiscard]] double energy_joules() const;
  [[nodiscard]] uint32_t cores() const { return config_.chips * config_.cores; }
  // The chip links a message from chip a to chip b crosses, in order
  // (indices into the hops; for tests and reports).
  [[nodiscard]] std::vector<uint32_t> route(uint32_t a, uint32_t b) const;
  // The mesh links from node `from` to node `to` of chip `chip`, x first
  // (appended to `path`; none without a mesh).
  void mesh_route(uint32_t chip, uint32_t from, uint32_t to, std::vector<uint32_t>& path) const;

 private:
  struct Hop {  // one direction of one link or port
    std::string name;
    double ps_per_byte = 0;  // 0: unlimited
    uint64_t latency_ps = 0;
    uint64_t header_bytes = 0;
    double pj_per_bit = 0;
    double free_ps = 0;
    HopStats stats;
    uint32_t chip = 0;  // whose ledger records it
    ResourceLedger* ledger = nullptr;
    ResourceLedger::Column column = 0;
  };
  uint32_t add_hop(const std::string& name, const LinkConfig& link, uint32_t chip);
  // One packet of `payload` bytes enters hop `h` at `at`: when it reaches
  // the next, ps.
  double cross(Hop& h, double at, uint64_t payload);
  // The hop of the chip link a -> b (neighbours), or of the switch ports.
  [[nodiscard]] uint32_t link(uint32_t a, uint32_t b) const;
  // Crosses the hops of `path` in order from `t_ps` with `bytes`: ps.
  uint64_t cross_all(const std::vector<uint32_t>& path, uint64_t t_ps, uint64_t bytes);
  [[nodiscard]] uint32_t memory_node(uint64_t address) const {
    return config_.memory_nodes[address / config_.interleave_bytes % config_.memory_nodes.size()];
  }

  ChipNetworkConfig config_;
  std::vector<Hop> hops_;
  std::vector<uint32_t> port_out_, port_in_;  // per core
  std::vector<uint32_t> link_of_;      // chips x chips -> hop (neighbours; a switch: a -> a is up)
  std::vector<uint32_t> switch_down_;  // per chip: the switch port down to it
  // Per chip, per node, per direction (+x, -x, +y, -y): the mesh hop.
  std::vector<uint32_t> mesh_hop_;
  std::vector<uint32_t> path_;  // a memory request's hops (reused)
};

}  // namespace npusim::arch

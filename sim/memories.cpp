#include "sim/memories.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/algorithm/string.hpp>
#include <charconv>
#include <map>

#include "common/error.h"
#include "memory/registry.h"

namespace npusim::sim {

std::vector<MemoryRef> memories(const System& system) {
  std::vector<MemoryRef> out;
  if (system.has_memory()) out.push_back({&system.memory(), "memory", 0});
  for (int i = 0; i < system.memories_size(); ++i) {
    out.push_back(
        {&system.memories(i), fmt::format("memories[{}]", i), static_cast<uint32_t>(out.size())});
  }
  return out;
}

bool has_interconnect(const System& system) {
  const auto all = memories(system);
  return all.size() > 1 || (all.size() == 1 && all[0].config->has_link());
}

std::string memory_model_name(const MemoryConfig& c) {
  if (c.has_dram() && !c.dram().preset().empty()) return c.dram().preset();
  if (c.has_pim() && !c.pim().preset().empty()) return c.pim().preset();
  const auto* oneof = MemoryConfig::descriptor()->FindOneofByName("model");
  const auto* set = c.GetReflection()->GetOneofFieldDescriptor(c, oneof);
  return set == nullptr ? "" : set->name();
}

double reachable_peak_gbps(const MemoryConfig& memory) {
  const double own =
      memory::MemoryRegistry::lookup(memory, "system", "memory").peak_bandwidth_gbps(memory);
  return memory.has_link() ? std::min(own, memory.link().bandwidth_gbps()) : own;
}

double reachable_read_latency_ns(const MemoryConfig& memory) {
  const double own =
      memory::MemoryRegistry::lookup(memory, "system", "memory").read_latency_ns(memory);
  if (!memory.has_link()) return own;
  const LinkConfig& l = memory.link();
  // The request's header one way, then the memory, then the response back.
  return own + 2 * l.latency_ns() + 2.0 * l.header_bytes() / l.bandwidth_gbps();
}

double core_peak_gbps(const System& system, const MemoryConfig& memory) {
  const double gbps = reachable_peak_gbps(memory);
  const Topology& t = system.topology();
  return t.has_core_port() ? std::min(gbps, t.core_port().bandwidth_gbps()) : gbps;
}

double core_read_latency_ns(const System& system, const MemoryConfig& memory) {
  const Topology& t = system.topology();
  return reachable_read_latency_ns(memory) +
         (t.has_core_port() ? 2 * t.core_port().latency_ns() : 0.0);
}

compiler::PlacementOptions placement_options(const System& system, const std::string& where) {
  compiler::PlacementOptions o;
  const bool routed = has_interconnect(system);
  std::map<std::string, uint32_t> index;
  for (const MemoryRef& m : memories(system)) {
    const uint64_t capacity =
        memory::MemoryRegistry::lookup(*m.config, where, m.path).capacity_bytes(*m.config);
    const std::string field = where + ": " + m.path + ".capacity_bytes";
    if (!routed) {  // one memory: addresses as they always were
      o.capacity_bytes = capacity;
      o.capacity_field = field;
      break;
    }
    o.memories.push_back({m.config->name(), capacity, field});
    index[m.config->name()] = m.index;
  }
  for (int i = 0; i < system.placement().rules_size(); ++i) {
    const PlacementRule& r = system.placement().rules(i);
    compiler::PlacementRule rule;
    for (int k : r.tensors()) {
      switch (static_cast<TensorKind>(k)) {
        case WEIGHTS:
          rule.classes.push_back(compiler::PlaceClass::Weights);
          break;
        case KV_CACHES:
          rule.classes.push_back(compiler::PlaceClass::KvCache);
          break;
        case ACTIVATIONS:
          rule.classes.push_back(compiler::PlaceClass::Activations);
          break;
        case EXPERTS:
          rule.classes.push_back(compiler::PlaceClass::Experts);
          break;
        default:
          break;
      }
    }
    if (r.has_first_layer()) rule.first_layer = r.first_layer();
    if (r.has_last_layer()) rule.last_layer = r.last_layer();
    for (const std::string& n : r.memories()) {
      const auto it = index.find(n);
      require(it != index.end(), where, fmt::format("placement.rules[{}].memories", i),
              "'" + n + "' is not a memory of the system");
      rule.memories.push_back(it->second);
    }
    rule.where = fmt::format("placement.rules[{}]", i);
    o.rules.push_back(std::move(rule));
  }
  return o;
}

PlacementRule parse_place_rule(const std::string& text) {
  const std::string flag = "--place";
  const size_t eq = text.find('=');
  require(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), flag, text,
          "expected CLASSES[@FIRST-LAST]=MEMORY[,MEMORY...], e.g. kv_cache=hbm,socamm2");
  PlacementRule r;
  std::string classes = text.substr(0, eq);
  if (const size_t at = classes.find('@'); at != std::string::npos) {
    const std::string layers = classes.substr(at + 1);
    classes.resize(at);
    uint32_t first = 0, last = 0;
    const size_t dash = layers.find('-');
    const std::string a = layers.substr(0, dash);
    const std::string b = dash == std::string::npos ? a : layers.substr(dash + 1);
    auto number = [](const std::string& s, uint32_t* v) {
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
      return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
    };
    require(number(a, &first) && number(b, &last) && first <= last, flag, text,
            "layers are FIRST-LAST (or one layer), 0 the first, FIRST <= LAST");
    r.set_first_layer(first);
    r.set_last_layer(last);
  }
  std::vector<std::string> names;
  boost::split(names, classes, boost::is_any_of("+"));
  for (const std::string& n : names) {
    static const std::map<std::string, TensorKind> kinds = {{"weights", WEIGHTS},
                                                            {"kv_cache", KV_CACHES},
                                                            {"activations", ACTIVATIONS},
                                                            {"experts", EXPERTS}};
    if (n == "all") continue;
    const auto k = kinds.find(n);
    require(k != kinds.end(), flag, text,
            fmt::format("'{}' is not one of weights, kv_cache, activations, experts, all", n));
    r.add_tensors(k->second);
  }
  std::vector<std::string> memories;
  boost::split(memories, text.substr(eq + 1), boost::is_any_of(","));
  for (const std::string& m : memories) {
    require(!m.empty(), flag, text, "a memory name is empty");
    r.add_memories(m);
  }
  return r;
}

std::optional<memory::pim::PimSpec> pim_spec_of(const MemoryRef& memory, const std::string& where) {
  if (!memory.config->has_pim()) return std::nullopt;
  return memory::pim::resolve_spec(memory.config->pim(), where, memory.path + ".pim");
}

}  // namespace npusim::sim

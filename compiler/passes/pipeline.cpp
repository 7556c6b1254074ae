#include "compiler/passes/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "common/error.h"
#include "compiler/graph_check.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {

Graph replicate_micro_batches(const Graph& graph, uint32_t micro_batches) {
  Graph out = graph;
  const TensorIndex tensors(graph);
  for (uint32_t m = 1; m < micro_batches; ++m) {
    const std::string prefix = fmt::format("mb{}.", m);
    const auto rename = [&](const std::string& t) {
      return tensors.at(t, "micro-batches").is_parameter() ? t : prefix + t;
    };
    for (const Tensor& t : graph.tensors()) {
      if (t.is_parameter()) continue;
      Tensor& copy = *out.add_tensors();
      copy = t;
      copy.set_name(prefix + t.name());
      if (!t.alias_of().empty()) copy.set_alias_of(rename(t.alias_of()));
    }
    for (const Node& n : graph.nodes()) {
      Node& copy = *out.add_nodes();
      copy = n;
      copy.set_name(prefix + n.name());
      for (std::string& in : *copy.mutable_inputs()) in = rename(in);
      for (std::string& o : *copy.mutable_outputs()) o = rename(o);
    }
  }
  if (micro_batches > 1)
    out.set_name(fmt::format("{} x{} micro-batches", graph.name(), micro_batches));
  return out;
}

namespace {

// Consecutive groups of `units` (bytes each), exactly `stages` of them,
// none empty, the largest group as small as can be: the least cap at which
// filling groups in order up to it needs no more than `stages` groups
// (binary search), then filled so, closing a group early when the units
// left are just enough for the groups left. Returns each unit's group.
std::vector<uint32_t> balance(const std::vector<uint64_t>& units, uint32_t stages) {
  const auto groups_at = [&](uint64_t cap) {
    uint32_t groups = 1;
    uint64_t sum = 0;
    for (uint64_t u : units) {
      if (sum + u > cap && sum > 0) {
        ++groups;
        sum = 0;
      }
      sum += u;
    }
    return groups;
  };
  uint64_t lo = *std::max_element(units.begin(), units.end()), hi = 0;
  for (uint64_t u : units) hi += u;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (groups_at(mid) <= stages) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  std::vector<uint32_t> group(units.size());
  uint32_t g = 0;
  uint64_t sum = 0;  // of group g (units are >= 1 byte: 0 only while it is empty)
  for (size_t i = 0; i < units.size(); ++i) {
    const size_t left = units.size() - i;  // this unit and those after it
    if (sum > 0 && (sum + units[i] > lo || left == stages - g - 1)) {
      ++g;
      sum = 0;
    }
    sum += units[i];
    group[i] = g;
  }
  return group;
}

}  // namespace

std::vector<Graph> split_stages(const Graph& graph, uint32_t stages, const std::string& flag) {
  const TensorIndex tensors(graph);
  std::set<uint32_t> layers;
  for (const Tensor& t : graph.tensors()) {
    if (t.has_layer()) layers.insert(t.layer());
  }
  require(!layers.empty(), flag, std::to_string(stages),
          "the graph's tensors carry no decoder layer numbers (Tensor.layer), which pipeline "
          "stages are made of");

  // Each node's part: its outputs' layer, else the latest layer of what
  // it reads, else (reading no layer's tensors) what comes before the
  // layers (the embedding). A node after the last layer that no layer's
  // node reads (the final norm, the LM head) is what comes after them.
  const auto last_layer = static_cast<int64_t>(*layers.rbegin());
  constexpr int64_t kBefore = -1;
  const int64_t after = last_layer + 1;
  std::unordered_map<std::string, int64_t> layer_of;  // tensor -> its part
  std::vector<int64_t> part_of(static_cast<size_t>(graph.nodes_size()));
  bool after_read_by_layer = false;
  for (int n = 0; n < graph.nodes_size(); ++n) {
    const Node& node = graph.nodes(n);
    int64_t layer = kBefore;
    for (const std::string& o : node.outputs()) {
      const Tensor& t = tensors.at(o, node.name());
      if (t.has_layer()) layer = std::max<int64_t>(layer, t.layer());
    }
    if (layer == kBefore) {
      for (const std::string& in : node.inputs()) {
        auto it = layer_of.find(in);
        if (it != layer_of.end()) layer = std::max(layer, it->second);
      }
      if (layer == last_layer) layer = after;
    } else {
      for (const std::string& in : node.inputs()) {
        auto it = layer_of.find(in);
        after_read_by_layer = after_read_by_layer || (it != layer_of.end() && it->second == after);
      }
    }
    for (const std::string& o : node.outputs()) layer_of[o] = layer;
    part_of[static_cast<size_t>(n)] = layer;
  }
  // (A graph whose last layer reads a tensor no layer is marked on keeps
  // what follows it in that layer's part.)
  if (after_read_by_layer) {
    for (int64_t& p : part_of) p = p == after ? last_layer : p;
  }

  // The parts in order, with the bytes each keeps in memory (its weights
  // and KV cache), cut into stages as even in bytes as their order allows.
  std::map<int64_t, uint64_t> bytes;  // part -> bytes
  std::set<std::string> counted;
  for (int n = 0; n < graph.nodes_size(); ++n) {
    const Node& node = graph.nodes(n);
    uint64_t& b = bytes[part_of[static_cast<size_t>(n)]];
    for (const auto* names : {&node.inputs(), &node.outputs()}) {
      for (const std::string& name : *names) {
        const Tensor& t = tensors.at(name, node.name());
        if (t.alias_of().empty() &&
            (t.tensor_class() == WEIGHT || t.tensor_class() == KV_CACHE || t.is_parameter()) &&
            counted.insert(name).second) {
          b += t.size_bytes();
        }
      }
    }
  }
  require(bytes.size() >= stages, flag, std::to_string(stages),
          fmt::format("more stages than the graph's {} parts: its {} decoder layers and what comes "
                      "before and after them",
                      bytes.size(), layers.size()));
  std::vector<uint64_t> unit_bytes;
  std::map<int64_t, uint32_t> unit_of;
  for (const auto& [part, b] : bytes) {
    unit_of[part] = static_cast<uint32_t>(unit_bytes.size());
    unit_bytes.push_back(std::max<uint64_t>(b, 1));
  }
  const std::vector<uint32_t> group = balance(unit_bytes, stages);
  std::vector<uint32_t> stage_of(part_of.size());
  for (size_t n = 0; n < part_of.size(); ++n) stage_of[n] = group[unit_of.at(part_of[n])];
  std::unordered_map<std::string, uint32_t> made_in;  // tensor -> the stage that computes it

  // The nodes of each stage, with the tensors that cross between stages
  // sent after their producer and received before their first reader.
  std::vector<std::vector<Node>> nodes(stages);
  std::vector<std::set<std::string>> received(stages);
  std::set<std::string> sent;
  std::unordered_map<std::string, size_t>
      producer_at;  // tensor -> its producer's place in its stage
  for (int n = 0; n < graph.nodes_size(); ++n) {
    const Node& node = graph.nodes(n);
    const uint32_t s = stage_of[static_cast<size_t>(n)];
    for (const std::string& in : node.inputs()) {
      auto from = made_in.find(in);
      if (from == made_in.end() || from->second == s) continue;
      if (from->second + 1 != s) {
        throw UserError(fmt::format(
            "{} {}: node '{}' (stage {}) reads '{}' from stage {}; a stage reads only from the "
            "one before it",
            flag, stages, node.name(), s, in, from->second));
      }
      if (sent.insert(in).second) {
        std::vector<Node>& before = nodes[from->second];
        Node send;
        send.set_name(in + ".pipe_send");
        send.set_op(PIPE_SEND);
        send.add_inputs(in);
        before.insert(before.begin() + static_cast<int64_t>(producer_at.at(in)) + 1, send);
        for (auto& [t, at] : producer_at) {  // what comes after it moved along
          if (made_in.at(t) == from->second && at > producer_at.at(in)) ++at;
        }
      }
      if (received[s].insert(in).second) {
        Node recv;
        recv.set_name(in + ".pipe_recv");
        recv.set_op(PIPE_RECV);
        recv.add_outputs(in);
        nodes[s].push_back(std::move(recv));
      }
    }
    for (const std::string& o : node.outputs()) {
      made_in[o] = s;
      producer_at[o] = nodes[s].size();
    }
    nodes[s].push_back(node);
  }

  std::vector<Graph> out(stages);
  for (uint32_t s = 0; s < stages; ++s) {
    Graph& g = out[s];
    g.set_name(fmt::format("{} stage {} of {}", graph.name(), s, stages));
    std::set<std::string> used;
    for (const Node& n : nodes[s]) {
      used.insert(n.inputs().begin(), n.inputs().end());
      used.insert(n.outputs().begin(), n.outputs().end());
    }
    for (auto it = graph.tensors().rbegin(); it != graph.tensors().rend(); ++it) {
      if (used.count(it->name()) != 0 && !it->alias_of().empty()) used.insert(it->alias_of());
    }
    for (const Tensor& t : graph.tensors()) {
      if (used.count(t.name()) != 0) *g.add_tensors() = t;
    }
    for (Node& n : nodes[s]) *g.add_nodes() = std::move(n);
    check_graph(g, fmt::format("{} {} (stage {})", flag, stages, s));
  }
  return out;
}

}  // namespace npusim::compiler

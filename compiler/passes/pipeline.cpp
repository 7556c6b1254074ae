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

std::vector<Graph> split_stages(const Graph& graph, uint32_t stages, const std::string& flag) {
  const TensorIndex tensors(graph);
  std::set<uint32_t> layers;
  for (const Tensor& t : graph.tensors()) {
    if (t.has_layer()) layers.insert(t.layer());
  }
  require(!layers.empty(), flag, std::to_string(stages),
          "the graph's tensors carry no decoder layer numbers (Tensor.layer), which pipeline "
          "stages are made of");
  require(layers.size() >= stages, flag, std::to_string(stages),
          fmt::format("more stages than the graph's {} decoder layers", layers.size()));
  std::map<uint32_t, uint32_t> stage_of_layer;
  uint32_t i = 0;
  for (uint32_t l : layers)
    stage_of_layer[l] = static_cast<uint32_t>(uint64_t{i++} * stages / layers.size());

  // Each node's stage: its outputs' layer, else the latest layer of what
  // it reads (the LM head after the last layer), else the first.
  std::unordered_map<std::string, int64_t> layer_of;  // tensor -> layer (-1: before any)
  std::unordered_map<std::string, uint32_t> made_in;  // tensor -> the stage that computes it
  std::vector<uint32_t> stage_of(static_cast<size_t>(graph.nodes_size()));
  for (int n = 0; n < graph.nodes_size(); ++n) {
    const Node& node = graph.nodes(n);
    int64_t layer = -1;
    for (const std::string& o : node.outputs()) {
      const Tensor& t = tensors.at(o, node.name());
      if (t.has_layer()) layer = std::max<int64_t>(layer, t.layer());
    }
    if (layer < 0) {
      for (const std::string& in : node.inputs()) {
        auto it = layer_of.find(in);
        if (it != layer_of.end()) layer = std::max(layer, it->second);
      }
    }
    for (const std::string& o : node.outputs()) layer_of[o] = layer;
    stage_of[static_cast<size_t>(n)] =
        layer < 0 ? 0 : stage_of_layer.at(static_cast<uint32_t>(layer));
  }

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

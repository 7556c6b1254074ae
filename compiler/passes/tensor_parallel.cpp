#include "compiler/passes/tensor_parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <regex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "compiler/graph_check.h"
#include "compiler/graph_util.h"

namespace npusim::compiler {
namespace {

enum class State : uint8_t { Whole, Split, Partial };

class Sharder {
 public:
  Sharder(const Graph& full, uint32_t ranks, std::string flag, std::optional<uint32_t> expert_rank)
      : g_(full), tensors_(full), n_(ranks), flag_(std::move(flag)), expert_rank_(expert_rank) {
    for (const Node& node : g_.nodes()) {
      for (int i = 0; i < node.inputs_size(); ++i) users_[node.inputs(i)].push_back({&node, i});
    }
  }

  ShardedGraph run() {
    out_.sharding.ranks = n_;
    out_.graph.set_name(fmt::format("{} tp{}", g_.name(), n_));
    for (const Node& node : g_.nodes()) shard(node);
    // Partial sums nothing reads whole yet: the graph's outputs.
    for (const auto& [name, partial] : partial_of_) {
      if (reduced_.count(name) == 0 && users_.count(name) == 0) reduce(name);
    }
    // The tensors, in the full graph's order, cut where they are split.
    std::unordered_set<std::string> used;
    for (const Node& n : nodes_) {
      used.insert(n.inputs().begin(), n.inputs().end());
      used.insert(n.outputs().begin(), n.outputs().end());
    }
    for (const Tensor& t : g_.tensors()) {
      if (expert_rank_ && used.count(t.name()) == 0) {
        const std::optional<uint32_t> e = expert_of(t.name());
        if (e && *e % n_ != *expert_rank_) continue;  // another core's expert
      }
      Tensor& copy = *out_.graph.add_tensors();
      copy = t;
      auto it = out_.sharding.split_axis.find(t.name());
      if (it == out_.sharding.split_axis.end()) continue;
      const int axis = it->second;
      copy.set_size_bytes(t.size_bytes() / n_);
      copy.set_shape(axis, t.shape(axis) / n_);
    }
    for (const auto& [name, partial] : partial_of_) {
      Tensor& copy = *out_.graph.add_tensors();
      copy = tensors_.at(name, "tensor parallelism");
      copy.set_name(partial);
    }
    for (Node& node : nodes_) *out_.graph.add_nodes() = std::move(node);
    check_graph(out_.graph, fmt::format("{} {} (the graph of one core)", flag_, n_));
    return std::move(out_);
  }

 private:
  [[nodiscard]] State state(const std::string& t) const {
    if (partial_of_.count(t) != 0 && reduced_.count(t) == 0) return State::Partial;
    return out_.sharding.split_axis.count(t) != 0 ? State::Split : State::Whole;
  }

  void split(const std::string& t, int axis, const Node& node) {
    const Tensor& tensor = tensors_.at(t, node.name());
    const auto dim = static_cast<uint64_t>(tensor.shape(axis));
    require(dim % n_ == 0, flag_, std::to_string(n_),
            fmt::format("does not divide the {} {} of tensor '{}' (node '{}')", dim,
                        axis == tensor.shape_size() - 1 ? "columns" : "rows", t, node.name()));
    auto [it, inserted] = out_.sharding.split_axis.emplace(t, axis);
    if (!inserted && it->second != axis) {
      throw UserError(
          fmt::format("{} {}: tensor '{}' would be split along two axes (node '{}' reads it)",
                      flag_, n_, t, node.name()));
    }
  }

  void divides(uint64_t count, const char* what, const Node& node) const {
    require(count % n_ == 0, flag_, std::to_string(n_),
            fmt::format("does not divide the {} {} of node '{}'", count, what, node.name()));
  }

  // A KV cache [sequences, KV heads, positions, head_dim] split by heads.
  void kv_heads(const std::string& cache, const Node& n) const {
    divides(static_cast<uint64_t>(tensors_.at(cache, n.name()).shape(1)), "KV heads", n);
  }

  // The sum of partial tensor `t` over the cores, before the node that needs it.
  void reduce(const std::string& t) {
    if (!reduced_.insert(t).second) return;
    Node node;
    node.set_name(t + ".all_reduce");
    node.set_op(ALL_REDUCE);
    node.add_inputs(partial_of_.at(t));
    node.add_outputs(t);
    set_attr(node, "ranks", static_cast<int64_t>(n_));
    nodes_.push_back(std::move(node));
  }

  // A matmul whose weight (input 1) is a parameter, its rows split when
  // its input is split: K, and a quantised weight's scale groups, divide.
  [[nodiscard]] bool weighted(const Node& n) const {
    return n.op() == MATMUL && n.inputs_size() >= 2 &&
           tensors_.at(n.inputs(1), n.name()).is_parameter();
  }

  // Tensor `t` is read only as input `input` of `op` nodes: only as
  // matmuls' weight (not also whole, as an embedding table tied to the LM
  // head is), or only as embeddings' tables.
  [[nodiscard]] bool only_read_as(const std::string& t, OpType op, int input) const {
    const auto& users = users_.at(t);
    return std::all_of(users.begin(), users.end(),
                       [&](const auto& u) { return u.first->op() == op && u.second == input; });
  }

  // Every op reading activation `t` can take its columns split in N.
  bool splittable(const std::string& t) {
    if (auto it = memo_.find(t); it != memo_.end()) return it->second;
    // The graph's output stays split (each core holds its share: the
    // logits of an LM head split by vocabulary).
    bool ok = true;
    for (const auto& [node, i] :
         users_.count(t) != 0 ? users_.at(t) : std::vector<std::pair<const Node*, int>>{}) {
      const Node& n = *node;
      switch (n.op()) {
        case MATMUL:
          ok = i == 0 && weighted(n);
          break;
        case BIAS_ADD:
        case ROTARY:
        case SWIGLU_OP:
        case GELU_OP:
        case RELU_OP:
        case SILU_OP:
          ok = (n.op() != BIAS_ADD || i == 0) && splittable(n.outputs(0));
          break;
        case KV_APPEND:
          ok = i == 0;
          if (ok) kv_heads(n.inputs(1), n);
          break;
        case ATTENTION:
        case ATTENTION_SCORE:
          ok = i == 0 &&
               (n.op() == ATTENTION ? splittable(n.outputs(0)) : heads_splittable(n.outputs(0)));
          if (ok) {
            divides(static_cast<uint64_t>(attr_int(n, "heads", 1)), "attention heads", n);
            for (int c = 1; c < n.inputs_size(); ++c) kv_heads(n.inputs(c), n);
          }
          break;
        default:
          ok = false;
      }
      if (!ok) break;
    }
    memo_[t] = ok;
    return ok;
  }

  // Scores split by heads: a softmax, then the context on them, whose
  // output's columns can be split.
  bool heads_splittable(const std::string& t) {
    if (users_.count(t) == 0) return false;
    for (const auto& [node, i] : users_.at(t)) {
      const bool ok = node->op() == SOFTMAX_OP          ? heads_splittable(node->outputs(0))
                      : node->op() == ATTENTION_CONTEXT ? i == 0 && splittable(node->outputs(0))
                                                        : false;
      if (!ok) return false;
    }
    return true;
  }

  // An MoE expert's node ("...experts.<e>....", the frontends' naming): e.
  [[nodiscard]] static std::optional<uint32_t> expert_of(const std::string& name) {
    static const std::regex kExpert(R"(experts\.(\d+)\.)");
    std::smatch m;
    if (!std::regex_search(name, m, kExpert)) return std::nullopt;
    return static_cast<uint32_t>(std::stoul(m[1].str()));
  }

  // Expert parallelism: expert e's nodes run whole on core e mod N alone,
  // their combine leaving partial sums; elsewhere they are dropped, and
  // what read a dropped combine's output reads its accumulator (or, with no
  // expert here before it, nothing, and a consumer that needs the sum reads
  // zeros). Returns false when `n` is dropped.
  bool place_expert(Node& n) {
    for (std::string& in : *n.mutable_inputs()) {
      auto it = forward_.find(in);
      if (it != forward_.end()) in = it->second;
    }
    const std::optional<uint32_t> e = expert_of(n.name());
    if (!e) return true;
    const bool mine = *e % n_ == *expert_rank_;
    if (n.op() == SCATTER_ADD) {  // part[, acc][, gates]
      const bool gated = n.attrs().count("slots") != 0;
      const bool has_acc = n.inputs_size() == (gated ? 3 : 2);
      std::string acc = has_acc ? n.inputs(1) : std::string();
      if (!mine) {
        forward_[n.outputs(0)] = acc;
        return false;
      }
      if (has_acc && acc.empty()) n.mutable_inputs()->erase(n.mutable_inputs()->begin() + 1);
      if (has_acc && !acc.empty()) n.set_inputs(1, partial_of_.at(acc));
      partial_of_[n.outputs(0)] = n.outputs(0) + ".partial";
      n.set_outputs(0, n.outputs(0) + ".partial");
      nodes_.push_back(std::move(n));
      return false;
    }
    if (!mine) return false;
    nodes_.push_back(std::move(n));  // whole: its weights are all here
    return false;
  }

  // Input i of `n`, absent on this core (no expert here gave the MoE
  // block's sum): zeros of its shape, from another input of that shape.
  void zeros_for(Node& n, int i, const std::string& missing) {
    const Tensor& want = tensors_.at(missing, n.name());
    for (int j = 0; j < n.inputs_size(); ++j) {
      if (j == i || n.inputs(j).empty()) continue;
      const Tensor& like = tensors_.at(n.inputs(j), n.name());
      if (like.shape().size() != want.shape().size() ||
          !std::equal(like.shape().begin(), like.shape().end(), want.shape().begin()) ||
          state(n.inputs(j)) != State::Whole) {
        continue;
      }
      Node zero;
      zero.set_name(missing + ".zeros");
      zero.set_op(ELEMENTWISE);
      zero.add_inputs(n.inputs(j));
      zero.add_outputs(missing + ".partial");
      set_attr(zero, "kind", std::string("MUL"));
      set_attr_real(zero, "scalar", 0.0);
      nodes_.push_back(std::move(zero));
      partial_of_[missing] = missing + ".partial";
      n.set_inputs(i, missing);
      return;
    }
    throw UserError(
        fmt::format("{} {} with expert parallelism: node '{}' needs '{}', which no "
                    "expert on this core computes",
                    flag_, n_, n.name(), missing));
  }

  void shard(const Node& full) {
    Node n = full;
    if (expert_rank_) {
      if (!place_expert(n)) return;
      for (int i = 0; i < n.inputs_size(); ++i) {
        auto it = forward_.find(full.inputs(i));
        if (it != forward_.end() && it->second.empty()) zeros_for(n, i, full.inputs(i));
      }
    }
    const auto in_state = [&](int i) { return state(n.inputs(i)); };
    const auto last_axis = [&](const std::string& t) {
      return tensors_.at(t, n.name()).shape_size() - 1;
    };
    bool split_out = false, partial_out = false;
    switch (n.op()) {
      case MATMUL:
        if (weighted(n) && in_state(0) == State::Split) {  // by rows: K over the cores
          const bool transposed = attr_int(n, "weight_transposed", 0) != 0;
          split(n.inputs(1), transposed ? 1 : 0, n);
          if (n.inputs_size() == 3) split(n.inputs(2), 0, n);  // the scale groups
          partial_out = true;
        } else if (weighted(n) && in_state(0) == State::Whole &&
                   only_read_as(n.inputs(1), MATMUL, 1) &&
                   splittable(n.outputs(0))) {  // by columns
          const bool transposed = attr_int(n, "weight_transposed", 0) != 0;
          split(n.inputs(1), transposed ? 0 : 1, n);
          if (n.inputs_size() == 3) split(n.inputs(2), 1, n);
          split_out = true;
        }
        break;
      case EMBEDDING:
        // By vocabulary (Megatron's vocab-parallel embedding): each core
        // holds a block of the table's rows and gathers the tokens that
        // fall in it, zeros for the others; the sum over the cores is the
        // lookup. A table that something else reads (tied to the LM head)
        // or whose rows the cores do not divide stays whole.
        if (only_read_as(n.inputs(0), EMBEDDING, 0) &&
            tensors_.at(n.inputs(0), n.name()).shape(0) % static_cast<int64_t>(n_) == 0) {
          split(n.inputs(0), 0, n);
          set_attr(n, "vocab_shards", static_cast<int64_t>(n_));
          partial_out = true;
        }
        break;
      case BIAS_ADD:
        if (in_state(0) == State::Split) {
          split(n.inputs(1), 0, n);
          split_out = true;
        }
        break;
      case ROTARY:
      case SWIGLU_OP:
      case GELU_OP:
      case RELU_OP:
      case SILU_OP:
        split_out = in_state(0) == State::Split;
        for (int i = 1; i < n.inputs_size(); ++i) same_split(n, i, split_out);
        break;
      case KV_APPEND:
        if (in_state(0) == State::Split) split(n.inputs(1), 1, n);  // by KV heads
        break;
      case ATTENTION_SCORE:
      case ATTENTION_CONTEXT:
      case ATTENTION:
        if (in_state(0) == State::Split) {
          const auto heads = static_cast<uint64_t>(attr_int(n, "heads", 1));
          divides(heads, "attention heads", n);
          set_attr(n, "heads", static_cast<int64_t>(heads / n_));
          split(n.outputs(0), n.op() == ATTENTION_SCORE ? 1 : last_axis(n.outputs(0)), n);
        }
        for (int i = 1; i < n.inputs_size(); ++i) same_split(n, i, in_state(0) == State::Split);
        break;
      case SOFTMAX_OP:
        if (in_state(0) == State::Split) split(n.outputs(0), 1, n);  // the scores' heads
        break;
      case SCATTER_ADD: {
        // Linear in its part and accumulator: partial sums stay partial.
        const bool gated = n.attrs().count("slots") != 0;
        const int linear = n.inputs_size() - (gated ? 1 : 0);
        bool all = true;
        for (int i = 0; i < linear; ++i) all = all && in_state(i) == State::Partial;
        if (all) {
          for (int i = 0; i < linear; ++i) n.set_inputs(i, partial_of_.at(n.inputs(i)));
          for (int i = linear; i < n.inputs_size(); ++i) whole(n, i);
          partial_out = true;
        }
        break;
      }
      default:
        break;
    }
    if (split_out && !out_.sharding.split_axis.count(n.outputs(0))) {
      split(n.outputs(0), last_axis(n.outputs(0)), n);
    }
    // Ops on split inputs take them as they are; any other input must be
    // whole: partial sums are reduced first.
    const bool on_parts = split_out || partial_out || n.op() == KV_APPEND ||
                          n.op() == ATTENTION_SCORE || n.op() == ATTENTION_CONTEXT ||
                          n.op() == ATTENTION || n.op() == SOFTMAX_OP;
    for (int i = 0; i < n.inputs_size(); ++i) {
      const State s = state(n.inputs(i));
      if (s == State::Partial && !(partial_out && n.op() == SCATTER_ADD)) whole(n, i);
      if (s == State::Split && !on_parts) {
        throw std::logic_error(fmt::format("tensor parallelism: node '{}' reads split tensor '{}'",
                                           n.name(), n.inputs(i)));
      }
    }
    if (partial_out) {
      const std::string& t = n.outputs(0);
      partial_of_[t] = t + ".partial";
      n.set_outputs(0, t + ".partial");
    }
    nodes_.push_back(std::move(n));
  }

  // Input i of `n` split as its first is (or not).
  void same_split(const Node& n, int i, bool split_first) const {
    if ((state(n.inputs(i)) == State::Split) == split_first) return;
    throw UserError(fmt::format(
        "{} {}: node '{}' reads '{}' {} but '{}' {}; tensor parallelism splits both or neither",
        flag_, n_, n.name(), n.inputs(0), split_first ? "split" : "whole", n.inputs(i),
        split_first ? "whole" : "split"));
  }

  // Input i of `n` whole: a partial sum is reduced before `n`.
  void whole(Node& n, int i) {
    if (state(n.inputs(i)) == State::Partial) reduce(n.inputs(i));
  }

  const Graph& g_;
  const TensorIndex tensors_;
  const uint32_t n_;
  const std::string flag_;
  std::unordered_map<std::string, std::vector<std::pair<const Node*, int>>> users_;
  std::unordered_map<std::string, bool> memo_;
  std::map<std::string, std::string> partial_of_;  // a partial sum -> its name in the core's graph
  std::unordered_set<std::string> reduced_;        // partial sums with their all-reduce
  const std::optional<uint32_t> expert_rank_;      // expert parallelism: this core's rank
  std::unordered_map<std::string, std::string> forward_;  // a dropped combine's output -> its acc
  std::vector<Node> nodes_;
  ShardedGraph out_;
};

// The tensor's elements as [outer, dim, inner] around `axis`.
struct Around {
  uint64_t outer = 1, dim = 1, inner = 1;
};
Around around(const Tensor& t, int axis) {
  Around a;
  for (int i = 0; i < t.shape_size(); ++i) {
    const auto d = static_cast<uint64_t>(t.shape(i));
    (i < axis ? a.outer : i == axis ? a.dim : a.inner) *= d;
  }
  return a;
}

}  // namespace

ShardedGraph shard_tensor_parallel(const Graph& full, uint32_t ranks, const std::string& flag,
                                   std::optional<uint32_t> expert_rank) {
  require(ranks >= 1 && ranks <= 4096, flag, std::to_string(ranks), "must be between 1 and 4096");
  if (ranks == 1) return {full, {}};
  return Sharder(full, ranks, flag, expert_rank).run();
}

std::vector<float> shard_values(const std::vector<float>& values, const Tensor& full, int axis,
                                uint32_t rank, uint32_t ranks) {
  const Around a = around(full, axis);
  const uint64_t part = a.dim / ranks;
  std::vector<float> out;
  out.reserve(a.outer * part * a.inner);
  for (uint64_t o = 0; o < a.outer; ++o) {
    const auto from = values.begin() + static_cast<int64_t>((o * a.dim + rank * part) * a.inner);
    out.insert(out.end(), from, from + static_cast<int64_t>(part * a.inner));
  }
  return out;
}

std::vector<float> unshard_values(const std::vector<std::vector<float>>& parts, const Tensor& full,
                                  int axis) {
  const Around a = around(full, axis);
  const uint64_t part = a.dim / parts.size();
  std::vector<float> out;
  out.reserve(a.outer * a.dim * a.inner);
  for (uint64_t o = 0; o < a.outer; ++o) {
    for (const std::vector<float>& p : parts) {
      const auto from = p.begin() + static_cast<int64_t>(o * part * a.inner);
      out.insert(out.end(), from, from + static_cast<int64_t>(part * a.inner));
    }
  }
  return out;
}

}  // namespace npusim::compiler

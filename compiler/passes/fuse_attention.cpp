#include "compiler/passes/fuse_attention.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "compiler/graph_util.h"

namespace npusim::compiler {

int fuse_attention(Graph& graph, const FuseAttentionOptions& options) {
  // Readers per tensor.
  std::unordered_map<std::string, int> readers;
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < graph.nodes_size(); ++i) {
    for (const auto& in : graph.nodes(i).inputs()) ++readers[in];
    for (const auto& out : graph.nodes(i).outputs()) producer[out] = i;
  }
  const TensorIndex tensors(graph);
  std::unordered_set<int> dropped_nodes;
  std::unordered_set<std::string> dropped_tensors;
  std::unordered_map<int, Node> fused_at;  // context node index -> the fused node
  for (int c = 0; c < graph.nodes_size(); ++c) {
    const Node& context = graph.nodes(c);
    if (context.op() != ATTENTION_CONTEXT || context.inputs_size() != 2) continue;
    const std::string& probs = context.inputs(0);
    auto p = producer.find(probs);
    if (p == producer.end() || readers[probs] != 1) continue;
    const Node& softmax = graph.nodes(p->second);
    if (softmax.op() != SOFTMAX_OP || softmax.inputs_size() != 1) continue;
    const std::string& scores = softmax.inputs(0);
    auto s = producer.find(scores);
    if (s == producer.end() || readers[scores] != 1) continue;
    const Node& score = graph.nodes(s->second);
    if (score.op() != ATTENTION_SCORE || score.inputs_size() != 2) continue;
    const int64_t tokens = attr_int(score, "tokens", 1);
    if (attr_int(context, "tokens", 1) != tokens ||
        attr_int(context, "heads", 0) != attr_int(score, "heads", 0)) {
      continue;
    }
    if (options.prefill_only && tokens <= 1) continue;
    // Flash attention streams K and V blocks of one shape.
    const int k = tensors.index(score.inputs(1)), v = tensors.index(context.inputs(1));
    if (k < 0 || v < 0) continue;
    const Tensor &kt = graph.tensors(k), &vt = graph.tensors(v);
    if (!std::equal(kt.shape().begin(), kt.shape().end(), vt.shape().begin(), vt.shape().end()) ||
        kt.dtype() != vt.dtype()) {
      continue;
    }
    Node fused;
    // The node keeps the score's name stem: "layers.3.attn_score" becomes
    // "layers.3.attention", so per-layer attribution still works.
    std::string name = score.name();
    const auto dot = name.rfind('.');
    fused.set_name((dot == std::string::npos ? std::string() : name.substr(0, dot + 1)) +
                   "attention");
    fused.set_op(ATTENTION);
    fused.add_inputs(score.inputs(0));
    fused.add_inputs(score.inputs(1));
    fused.add_inputs(context.inputs(1));
    fused.add_outputs(context.outputs(0));
    set_attr(fused, "heads", attr_int(score, "heads", 0));
    set_attr(fused, "tokens", tokens);
    // The softmax's scale and mask: with `causal` the new tokens are the
    // last ones and each sees the positions before it.
    set_attr_real(fused, "scale", attr_real(softmax, "scale", 1));
    set_attr(fused, "causal", attr_int(softmax, "causal", 0));
    fused_at[c] = fused;
    dropped_nodes.insert(s->second);
    dropped_nodes.insert(p->second);
    dropped_tensors.insert(scores);
    dropped_tensors.insert(probs);
  }
  if (fused_at.empty()) return 0;
  Graph out;
  out.set_name(graph.name());
  for (const Tensor& t : graph.tensors()) {
    if (dropped_tensors.count(t.name()) == 0) *out.add_tensors() = t;
  }
  for (int i = 0; i < graph.nodes_size(); ++i) {
    if (auto f = fused_at.find(i); f != fused_at.end()) {
      *out.add_nodes() = f->second;
    } else if (dropped_nodes.count(i) == 0) {
      *out.add_nodes() = graph.nodes(i);
    }
  }
  graph = std::move(out);
  return static_cast<int>(fused_at.size());
}

}  // namespace npusim::compiler

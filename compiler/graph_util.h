// Small helpers for building and reading npusim.Graph.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

[[nodiscard]] uint64_t num_elements(const Tensor& tensor);
// The size of the last axis (a row).
[[nodiscard]] inline uint64_t last_dim(const Tensor& t) {
  return static_cast<uint64_t>(t.shape(t.shape_size() - 1));
}

// Adds a tensor with its size computed from shape and dtype.
Tensor& add_tensor(Graph& graph, const std::string& name, std::vector<int64_t> shape, DType dtype,
                   TensorClass cls, bool is_parameter);

Node& add_node(Graph& graph, const std::string& name, OpType op, std::vector<std::string> inputs,
               std::vector<std::string> outputs);

void set_attr(Node& node, const std::string& key, int64_t value);
void set_attr(Node& node, const std::string& key, const std::string& value);
[[nodiscard]] int64_t attr_int(const Node& node, const std::string& key, int64_t fallback);
// The table rows an EMBEDDING node reads for its `batch` output rows, of a
// table of `rows`: attrs.rows (listed: token ids fixed at import),
// attrs.row + r % attrs.tokens (positions), or token ids drawn from
// attrs.seed.
[[nodiscard]] std::vector<uint64_t> embedding_rows(const Node& node, uint64_t rows, uint64_t batch);
// A row no core of a vocabulary-split embedding but another holds.
inline constexpr uint64_t kOtherShardRow = UINT64_MAX;
// The rows core `rank` of an embedding split by vocabulary (attrs.vocab_shards
// N, tensor_parallel.h) reads from its block of `rows` rows: the tokens are
// those the whole table's (N x rows) embedding_rows() gives, each in the
// block of one core; the others' are kOtherShardRow. Without the attribute,
// embedding_rows().
[[nodiscard]] std::vector<uint64_t> embedding_shard_rows(const Node& node, uint64_t rows,
                                                         uint64_t batch, uint32_t rank);

// Weight-only quantisation: the K rows one scale covers in an INT4 weight
// (groups of 128, as GPTQ and AWQ use, or all K when fewer) or an INT8 one
// (all K: a scale per output column); 0 for a weight that is not quantised.
[[nodiscard]] uint64_t quant_group(DType dtype, uint64_t k);

// The rows a GATHER_ROWS or SCATTER_ADD node lists (attrs.rows, "0,3,5"),
// each below `limit`; UserError naming the node otherwise. Another list
// (SCATTER_ADD's slots, MOE_GATES's experts) by its key.
[[nodiscard]] std::vector<uint64_t> listed_rows(const Node& node, uint64_t limit,
                                                const std::string& key = "rows");

// A real-valued attribute (AttrValue.f).
void set_attr_real(Node& node, const std::string& key, double value);
[[nodiscard]] double attr_real(const Node& node, const std::string& key, double fallback);
// A norm's epsilon (attrs.eps; absent: 1e-5).
[[nodiscard]] inline double norm_eps(const Node& node) {
  return attr_real(node, "eps", 1e-5);
}

// The dimensions of a KV cache tensor [batch, kv_heads, L, d]; UserError
// naming `node` when it has another rank.
struct CacheShape {
  uint64_t batch, kv_heads, len, head_dim;
};
[[nodiscard]] CacheShape cache_shape(const Tensor& cache, const std::string& node);

// Attention over a KV cache: the query heads (attrs.heads, a multiple of the
// cache's kv heads), `group` of them per KV head, and the step's new tokens
// (attrs.tokens, 1 to the cache length). UserError naming the node otherwise.
struct AttentionShape {
  uint64_t heads, group, tokens;
};
[[nodiscard]] AttentionShape attention_shape(const Node& node, const CacheShape& cache);

// Name -> index of the graph's tensors.
class TensorIndex {
 public:
  explicit TensorIndex(const Graph& graph);
  // Throws UserError naming the node when the tensor does not exist.
  [[nodiscard]] const Tensor& at(const std::string& name, const std::string& node) const;
  [[nodiscard]] int index(const std::string& name) const;

 private:
  const Graph& graph_;
  std::unordered_map<std::string, int> index_;
};

}  // namespace npusim::compiler

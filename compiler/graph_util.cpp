#include "compiler/graph_util.h"

#include <fmt/format.h>

#include <sstream>

#include "common/dtype.h"
#include "common/error.h"

namespace npusim::compiler {

uint64_t num_elements(const Tensor& tensor) {
  uint64_t n = 1;
  for (int64_t d : tensor.shape()) n *= static_cast<uint64_t>(d);
  return n;
}

Tensor& add_tensor(Graph& graph, const std::string& name, std::vector<int64_t> shape, DType dtype,
                   TensorClass cls, bool is_parameter) {
  Tensor& t = *graph.add_tensors();
  t.set_name(name);
  for (int64_t d : shape) t.add_shape(d);
  t.set_dtype(dtype);
  t.set_tensor_class(cls);
  t.set_is_parameter(is_parameter);
  t.set_size_bytes(dtype_bytes(dtype, num_elements(t)));
  return t;
}

Node& add_node(Graph& graph, const std::string& name, OpType op, std::vector<std::string> inputs,
               std::vector<std::string> outputs) {
  Node& n = *graph.add_nodes();
  n.set_name(name);
  n.set_op(op);
  for (auto& i : inputs) n.add_inputs(i);
  for (auto& o : outputs) n.add_outputs(o);
  return n;
}

void set_attr(Node& node, const std::string& key, int64_t value) {
  (*node.mutable_attrs())[key].set_i(value);
}

void set_attr(Node& node, const std::string& key, const std::string& value) {
  (*node.mutable_attrs())[key].set_s(value);
}

int64_t attr_int(const Node& node, const std::string& key, int64_t fallback) {
  auto it = node.attrs().find(key);
  return it == node.attrs().end() ? fallback : it->second.i();
}

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

std::vector<uint64_t> embedding_rows(const Node& node, uint64_t rows, uint64_t batch) {
  if (node.attrs().count("rows") != 0) {  // listed (token ids fixed at import)
    std::vector<uint64_t> listed = listed_rows(node, rows);
    require(listed.size() == batch, "graph", "node '" + node.name() + "'.attrs.rows",
            fmt::format("lists {} rows for {} output rows", listed.size(), batch));
    return listed;
  }
  const int64_t fixed = attr_int(node, "row", -1);
  const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
  const auto seed = static_cast<uint64_t>(attr_int(node, "seed", 0));
  std::vector<uint64_t> src(batch);
  for (uint64_t i = 0; i < batch; ++i) {
    src[i] = fixed >= 0 ? static_cast<uint64_t>(fixed) + i % tokens
                        : splitmix64(seed * 1000003 + i) % rows;
  }
  return src;
}

std::vector<uint64_t> embedding_shard_rows(const Node& node, uint64_t rows, uint64_t batch,
                                           uint32_t rank) {
  const auto shards = static_cast<uint64_t>(attr_int(node, "vocab_shards", 1));
  std::vector<uint64_t> src = embedding_rows(node, rows * shards, batch);
  if (shards == 1) return src;
  for (uint64_t& r : src) r = r / rows == rank ? r % rows : kOtherShardRow;
  return src;
}

uint64_t quant_group(DType dtype, uint64_t k) {
  if (dtype == INT4) return std::min<uint64_t>(128, k);
  return dtype == INT8 ? k : 0;
}

std::vector<uint64_t> listed_rows(const Node& node, uint64_t limit, const std::string& key) {
  auto it = node.attrs().find(key);
  require(it != node.attrs().end(), "graph", "node '" + node.name() + "'.attrs." + key,
          "is missing");
  std::vector<uint64_t> rows;
  std::stringstream in(it->second.s());
  for (std::string item; std::getline(in, item, ',');) {
    uint64_t r = 0;
    try {
      r = std::stoull(item);
    } catch (const std::exception&) {
      r = limit;
    }
    require(r < limit, "graph", "node '" + node.name() + "'.attrs." + key,
            fmt::format("'{}' is not a row below {}", item, limit));
    rows.push_back(r);
  }
  return rows;
}

void set_attr_real(Node& node, const std::string& key, double value) {
  (*node.mutable_attrs())[key].set_f(value);
}

double attr_real(const Node& node, const std::string& key, double fallback) {
  auto it = node.attrs().find(key);
  return it == node.attrs().end() ? fallback : it->second.f();
}

CacheShape cache_shape(const Tensor& cache, const std::string& node) {
  require(cache.shape_size() == 4, "graph", "node '" + node + "'",
          "the cache '" + cache.name() + "' must be [batch, kv_heads, L, d]");
  return {static_cast<uint64_t>(cache.shape(0)), static_cast<uint64_t>(cache.shape(1)),
          static_cast<uint64_t>(cache.shape(2)), static_cast<uint64_t>(cache.shape(3))};
}

AttentionShape attention_shape(const Node& node, const CacheShape& cache) {
  const std::string where = "node '" + node.name() + "'";
  const auto heads = static_cast<uint64_t>(attr_int(node, "heads", 0));
  require(heads > 0 && heads % cache.kv_heads == 0, "graph", where + ".attrs.heads",
          "must be a positive multiple of the cache's kv heads");
  const auto tokens = static_cast<uint64_t>(attr_int(node, "tokens", 1));
  require(tokens >= 1 && tokens <= cache.len, "graph", where + ".attrs.tokens",
          "must be between 1 and the cache length");
  return {heads, heads / cache.kv_heads, tokens};
}

TensorIndex::TensorIndex(const Graph& graph) : graph_(graph) {
  for (int i = 0; i < graph.tensors_size(); ++i) index_[graph.tensors(i).name()] = i;
}

const Tensor& TensorIndex::at(const std::string& name, const std::string& node) const {
  const int i = index(name);
  if (i < 0) throw UserError("graph: node '" + node + "': tensor '" + name + "' is not defined");
  return graph_.tensors(i);
}

int TensorIndex::index(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

}  // namespace npusim::compiler

// Tensor parallelism (compiler/passes/tensor_parallel.h): the split each
// core gets, the bytes it reads and sends, and the same outputs at 1, 2 and
// 4 chips in functional mode.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "compiler/frontends/decoder_layer.h"
#include "compiler/frontends/hf_config.h"
#include "compiler/frontends/model_graph.h"
#include "compiler/graph_util.h"
#include "compiler/passes/tensor_parallel.h"
#include "sim/config.h"
#include "sim/functional_run.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace npusim {
namespace {

// `chips` npu-hbm3 chips in a ring of 100 GB/s links of 1 us.
System chips_system(uint32_t chips) {
  return sim::load_system(
      std::string(NPUSIM_SOURCE_DIR) + "/examples/hw/npu-hbm3.textproto",
      {fmt::format("topology.chips={}", chips), "topology.chip_link.bandwidth_gbps=100",
       "topology.chip_link.latency_ns=1000"});
}

constexpr const char* kLayer = "hidden=512,heads=8,kv_heads=4,intermediate=1024";

sim::WorkloadOptions layers(uint64_t n, uint64_t batch = 1) {
  sim::WorkloadOptions w;
  w.layer = kLayer;
  w.layers = n;
  w.batch = batch;
  return w;
}

// Q, K, V, gate and up by columns; O and down by rows (their partial sums
// reduced once each, before the residual adds); the norms whole.
TEST(TensorParallel, SplitsALayerAsMegatronDoes) {
  const compiler::ModelSpec spec = compiler::parse_layer(kLayer, "test");
  compiler::DecodeShape shape;
  const Graph full = compiler::build_decoder_layers(spec, shape, 2);
  const compiler::ShardedGraph s = compiler::shard_tensor_parallel(full, 4);
  const auto axis = [&](const std::string& t) {
    auto it = s.sharding.split_axis.find(t);
    return it == s.sharding.split_axis.end() ? -1 : it->second;
  };
  for (const char* proj : {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"}) {
    EXPECT_EQ(axis(fmt::format("layers.0.{}.weight", proj)), 1) << proj;
  }
  EXPECT_EQ(axis("layers.0.o_proj.weight"), 0);
  EXPECT_EQ(axis("layers.0.down_proj.weight"), 0);
  EXPECT_EQ(axis("layers.0.attn_norm.weight"), -1);
  EXPECT_EQ(axis("layers.1.k_cache"), 1);  // by KV heads
  uint32_t reduces = 0;
  for (const Node& n : s.graph.nodes()) {
    if (n.op() == ALL_REDUCE) {
      ++reduces;
      EXPECT_EQ(compiler::attr_int(n, "ranks", 0), 4);
    }
    if (n.op() == ATTENTION_SCORE) {
      EXPECT_EQ(compiler::attr_int(n, "heads", 0), 2);
    }
  }
  EXPECT_EQ(reduces, 4u);  // two per layer
  const compiler::TensorIndex t(s.graph);
  EXPECT_EQ(t.at("layers.0.q_proj.weight", "test").shape(1), 128);
  EXPECT_EQ(t.at("layers.0.k_cache", "test").shape(1), 1);
}

// A whole model's LM head is split by vocabulary, its logits left in
// parts; so is its embedding, whose partial lookups one all-reduce sums; a
// table tied to the head stays whole, and the head with it.
TEST(TensorParallel, SplitsTheLmHeadByVocabularyUnlessTied) {
  compiler::DecodeShape shape;
  const auto model = [&](const char* name) {
    return compiler::build_model(
        compiler::load_hf_config(std::string(NPUSIM_SOURCE_DIR) + "/examples/models/" + name),
        shape, 1);
  };
  const compiler::ShardedGraph llama = compiler::shard_tensor_parallel(model("llama2-7b.json"), 2);
  EXPECT_EQ(llama.sharding.split_axis.at("lm_head.weight"), 1);
  EXPECT_EQ(llama.sharding.split_axis.at("logits"), 1);
  EXPECT_EQ(llama.sharding.split_axis.at("embed_tokens.weight"), 0);
  int reduced_lookups = 0;
  for (const Node& n : llama.graph.nodes()) {
    if (n.op() == EMBEDDING) {
      EXPECT_EQ(compiler::attr_int(n, "vocab_shards", 1), 2);
    }
    if (n.op() == ALL_REDUCE && n.outputs(0) == "embeddings") ++reduced_lookups;
  }
  EXPECT_EQ(reduced_lookups, 1);
  const compiler::ShardedGraph qwen = compiler::shard_tensor_parallel(model("qwen2-0.5b.json"), 2);
  EXPECT_EQ(qwen.sharding.split_axis.count("logits"), 0u);
  EXPECT_EQ(qwen.sharding.split_axis.count("embed_tokens.weight"), 0u);
}

// Each chip reads 1/N of every split weight and all of the whole ones,
// and sends what the ring all-reduce's schedule says: 2 (N - 1) / N of
// each reduced tensor's bytes.
TEST(TensorParallel, EachChipReadsItsShareAndSendsTheRingsBytes) {
  const compiler::ModelSpec spec = compiler::parse_layer(kLayer, "test");
  compiler::DecodeShape shape;
  shape.batch = 2;
  const Graph full = compiler::build_decoder_layers(spec, shape, 2);
  for (uint32_t n : {2u, 4u}) {
    const compiler::ShardedGraph s = compiler::shard_tensor_parallel(full, n);
    uint64_t expected = 0;
    for (const Tensor& w : full.tensors()) {
      if (w.tensor_class() != WEIGHT) continue;
      expected += s.sharding.split_axis.count(w.name()) != 0 ? w.size_bytes() / n : w.size_bytes();
    }
    const System system = chips_system(n);
    const sim::Compiled c = sim::compile_workload(system, "test", layers(2, 2));
    sim::SimulationInput in;
    in.system = &system;
    in.program = &c.program;
    const Report r = sim::simulate(in);
    ASSERT_EQ(r.chips_size(), static_cast<int>(n));
    EXPECT_EQ(r.traffic().unique_read().weight(), expected) << n << " chips";
    // Two all-reduces per layer of 2 rows x 512 fp16.
    const uint64_t reduced = 2 * 2 * (2 * 512 * 2);
    for (const ChipStats& chip : r.chips()) {
      EXPECT_EQ(chip.bytes_sent(), reduced * 2 * (n - 1) / n) << n << " chips";
      EXPECT_EQ(chip.bytes_read(), r.chips(0).bytes_read());
    }
  }
}

// 1, 2 and 4 chips compute the same outputs (the KV caches gathered from
// every chip's part), each within fp16 rounding of the reference
// interpreter on the whole graph.
TEST(TensorParallel, FunctionalOutputsAreTheSameAtOneTwoAndFourChips) {
  std::map<std::string, std::vector<float>> one;
  for (uint32_t n : {1u, 2u, 4u}) {
    const System system = chips_system(n);
    const sim::Compiled c = sim::compile_workload(system, "test", layers(2, 3));
    sim::SimulationInput in;
    in.system = &system;
    const sim::FunctionalResult f = sim::run_functional(in, c, {});
    ASSERT_EQ(f.outputs.size(), 5u);  // two layers' K and V caches, and the output
    for (const sim::TensorResult& t : f.outputs) {
      ASSERT_FALSE(t.reference.empty()) << t.name;
      const sim::Comparison cmp = sim::compare(t.values, t.reference, t.dtype);
      EXPECT_TRUE(cmp.within()) << n << " chips, " << t.name << ": " << cmp.max_rel;
      if (n == 1) {
        one[t.name] = t.values;
      } else {
        const sim::Comparison same = sim::compare(t.values, one.at(t.name), t.dtype);
        EXPECT_TRUE(same.within()) << n << " chips, " << t.name << ": " << same.max_rel;
      }
    }
  }
}

// Expert parallelism: each expert whole on core e mod 4 (its weights only
// there), one all-reduce after the attention block and one after the
// experts' combine on every core (one holding no routed expert adds
// zeros), and the outputs those of the whole model.
TEST(TensorParallel, ExpertParallelismSpreadsWholeExperts) {
  const std::string path = ::testing::TempDir() + "/moe4.json";
  std::ofstream(path) << R"({"model_type": "mixtral", "hidden_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
    "intermediate_size": 512, "vocab_size": 1000, "num_local_experts": 8,
    "num_experts_per_tok": 2})";
  const System system = chips_system(4);
  sim::WorkloadOptions w;
  w.model = path;
  w.batch = 2;
  w.ep = 4;
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  ASSERT_EQ(c.stages.size(), 4u);
  const std::regex expert(R"(experts\.(\d+)\.(gate|up|down)_proj\.weight)");
  for (uint32_t core = 0; core < 4; ++core) {
    uint32_t experts = 0, reduces = 0;
    for (const Tensor& t : c.stages[core].graph.tensors()) {
      std::smatch m;
      if (!std::regex_search(t.name(), m, expert)) continue;
      EXPECT_EQ(std::stoul(m[1].str()) % 4, core) << t.name();
      EXPECT_EQ(c.sharding.split_axis.count(t.name()), 0u) << t.name();  // whole
      ++experts;
    }
    for (const Node& n : c.stages[core].graph.nodes()) reduces += n.op() == ALL_REDUCE ? 1 : 0;
    EXPECT_EQ(experts, 2u * 2u * 3u) << core;  // 2 experts x 2 layers x 3 projections
    EXPECT_EQ(reduces, 5u) << core;            // 2 per layer, and the embedding's
  }
  sim::SimulationInput in;
  in.system = &system;
  const sim::FunctionalResult f = sim::run_functional(in, c, {});
  ASSERT_EQ(f.outputs.size(), 5u);
  for (const sim::TensorResult& t : f.outputs) {
    EXPECT_TRUE(sim::compare(t.values, t.reference, t.dtype).within()) << t.name;
  }
}

// The embedding split by vocabulary over 4 chips: each holds a quarter of
// the table, looks up the tokens in it (a chip may hold none of a step's)
// and the all-reduce gives every chip the whole lookup: the model's
// outputs are those of the reference interpreter on the whole model.
TEST(TensorParallel, VocabularySplitEmbeddingLooksUpEveryToken) {
  const std::string path = ::testing::TempDir() + "/vocab4.json";
  std::ofstream(path) << R"({"model_type": "llama", "hidden_size": 256,
    "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 4,
    "intermediate_size": 512, "vocab_size": 1000})";
  const System system = chips_system(4);
  sim::WorkloadOptions w;
  w.model = path;
  w.batch = 3;
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  EXPECT_EQ(c.sharding.split_axis.at("embed_tokens.weight"), 0);
  for (uint32_t core = 0; core < 4; ++core) {
    for (const Tensor& t : c.stages[core].graph.tensors()) {
      if (t.name() == "embed_tokens.weight") {
        EXPECT_EQ(t.shape(0), 250) << core;
      }
    }
  }
  sim::SimulationInput in;
  in.system = &system;
  const sim::FunctionalResult f = sim::run_functional(in, c, {});
  ASSERT_EQ(f.outputs.size(), 3u);  // K and V caches, and the logits
  for (const sim::TensorResult& t : f.outputs) {
    ASSERT_FALSE(t.reference.empty()) << t.name;
    EXPECT_TRUE(sim::compare(t.values, t.reference, t.dtype).within()) << t.name;
  }
}

// Splitting takes 1/N of each part and puts the parts back.
TEST(TensorParallel, ShardValuesCutAndJoinAlongAnAxis) {
  Tensor t;
  t.add_shape(2);
  t.add_shape(4);
  t.add_shape(3);
  std::vector<float> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const std::vector<float> p1 = compiler::shard_values(v, t, 1, 1, 2);
  EXPECT_EQ(p1, (std::vector<float>{6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23}));
  const std::vector<float> p0 = compiler::shard_values(v, t, 1, 0, 2);
  EXPECT_EQ(compiler::unshard_values({p0, p1}, t, 1), v);
}

}  // namespace
}  // namespace npusim

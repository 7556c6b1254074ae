// Pipeline parallelism (compiler/passes/pipeline.h): stages of consecutive
// layers, micro-batches flowing through them, GPipe's bubble, and the same
// outputs as one chip's in functional mode.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "common/error.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/frontends/hf_config.h"
#include "compiler/frontends/model_graph.h"
#include "compiler/graph_util.h"
#include "compiler/passes/pipeline.h"
#include "sim/config.h"
#include "sim/functional_run.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace npusim {
namespace {

// `chips` chips of `hw` in a ring of 1 TB/s links of 10 ns.
System chips_system(uint32_t chips, const std::string& hw = "npu-hbm3") {
  return sim::load_system(
      std::string(NPUSIM_SOURCE_DIR) + "/examples/hw/" + hw + ".textproto",
      {fmt::format("topology.chips={}", chips), "topology.chip_link.bandwidth_gbps=1000",
       "topology.chip_link.latency_ns=10"});
}

uint32_t count(const Graph& g, OpType op) {
  uint32_t n = 0;
  for (const Node& node : g.nodes()) n += node.op() == op ? 1 : 0;
  return n;
}

// Four layers in two stages: layers 0 and 1, then 2 and 3, the residual
// stream sent after layer 1 and received before layer 2, once per
// micro-batch; the parameters shared by the micro-batches' copies.
TEST(Pipeline, CutsLayersIntoStagesAndSendsWhatCrosses) {
  const compiler::ModelSpec spec = compiler::parse_layer("tiny", "test");
  const Graph g = compiler::replicate_micro_batches(
      compiler::build_decoder_layers(spec, compiler::DecodeShape{}, 4), 2);
  const std::vector<Graph> stages = compiler::split_stages(g, 2);
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(count(stages[0], PIPE_SEND), 2u);
  EXPECT_EQ(count(stages[0], PIPE_RECV), 0u);
  EXPECT_EQ(count(stages[1], PIPE_RECV), 2u);
  EXPECT_EQ(count(stages[1], PIPE_SEND), 0u);
  EXPECT_EQ(stages[0].nodes(stages[0].nodes_size() - 1).inputs(0), "mb1.layers.1.out");
  EXPECT_EQ(stages[1].nodes(0).outputs(0), "layers.1.out");
  const compiler::TensorIndex second(stages[1]);
  EXPECT_NO_THROW((void)second.at("layers.3.q_proj.weight", "test"));
  EXPECT_THROW((void)second.at("layers.0.q_proj.weight", "test"), UserError);
  EXPECT_THROW((void)compiler::split_stages(g, 5), UserError);  // more stages than layers
}

// Stages even in the bytes they keep: with as many stages as parts the
// embedding and the LM head (and final norm) have stages of their own, as
// an SRAM-only chip too small for a layer and a table needs; with two, the
// embedding goes with the first layer and the head with the last.
TEST(Pipeline, StagesAreEvenInBytesAndTheEmbeddingAndHeadMayStandAlone) {
  const std::string path = ::testing::TempDir() + "/pp_parts.json";
  std::ofstream(path) << R"({"model_type": "llama", "hidden_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
    "intermediate_size": 512, "vocab_size": 1000})";
  const Graph g = compiler::build_model(compiler::load_hf_config(path), compiler::DecodeShape{}, 2);
  const auto ops = [](const Graph& stage) {
    std::multiset<OpType> out;
    for (const Node& n : stage.nodes()) out.insert(n.op());
    return out;
  };
  const std::vector<Graph> four = compiler::split_stages(g, 4);
  EXPECT_EQ(ops(four[0]), (std::multiset<OpType>{EMBEDDING, PIPE_SEND}));
  EXPECT_EQ(ops(four[3]), (std::multiset<OpType>{PIPE_RECV, RMS_NORM, MATMUL}));
  EXPECT_EQ(count(four[1], ATTENTION_SCORE) + count(four[1], ATTENTION), 1u);
  EXPECT_EQ(count(four[2], ATTENTION_SCORE) + count(four[2], ATTENTION), 1u);
  const std::vector<Graph> two = compiler::split_stages(g, 2);
  EXPECT_EQ(count(two[0], EMBEDDING), 1u);
  EXPECT_EQ(count(two[1], EMBEDDING), 0u);
  EXPECT_EQ(two[1].nodes(two[1].nodes_size() - 1).name(), "lm_head");
  EXPECT_EQ(count(two[0], MATMUL), count(two[1], MATMUL) - 1);  // 7 per layer, and the head
  EXPECT_THROW((void)compiler::split_stages(g, 5), UserError);  // 4 parts
}

// Balanced stages (one layer each on ideal memory, the links' time a
// fraction of a percent of a stage's): each chip idles before its first
// micro-batch and after its last for (P - 1) / (M + P - 1) of the run.
TEST(Pipeline, TheBubbleIsGPipes) {
  const System system = chips_system(4, "npu-128x128-ideal");
  for (uint64_t m : {1u, 4u}) {
    sim::WorkloadOptions w;
    w.layer = "hidden=2048,heads=16,kv_heads=16,intermediate=5504";
    w.layers = 4;
    w.pp = 4;
    w.batch = m;
    w.micro_batches = m;
    const sim::Compiled c = sim::compile_workload(system, "test", w);
    sim::SimulationInput in;
    in.system = &system;
    in.program = &c.program;
    const Report r = sim::simulate(in);
    const double expected = 3.0 / static_cast<double>(m + 3);
    EXPECT_NEAR(r.idle_share(), expected, 0.02 * expected) << m << " micro-batches";
    // The stages start one after another, a stage's time apart.
    ASSERT_EQ(r.chips_size(), 4);
    const double stage = r.chips(1).computing_from() - r.chips(0).computing_from();
    EXPECT_NEAR(r.chips(3).computing_from() - r.chips(2).computing_from(), stage, 0.02 * stage);
    // Each stage's limiter is measured while it computed (decode on 1 TB/s
    // ideal memory: its bus, busy most of that time though the chip idles
    // most of the run), and the system's is the one that held them.
    for (const ChipStats& chip : r.chips()) {
      EXPECT_EQ(chip.limiter().resource(), "memory bus") << chip.chip();
      EXPECT_GT(chip.limiter().busy_share(), 0.6) << chip.chip();
    }
    EXPECT_EQ(r.limiter().resource(), "memory bus");
    EXPECT_GT(r.limiter().busy_share(), 0.6);
  }
}

// Four stages of one chip, and two stages of two tensor-parallel chips
// with two micro-batches, compute what one chip does, each output within
// fp16 rounding of the reference interpreter's.
TEST(Pipeline, FunctionalOutputsAreOneChipsWithStagesAndMicroBatches) {
  std::map<std::string, std::vector<float>> one;
  struct Case {
    uint32_t chips, pp, micro;
  };
  for (const Case& k : {Case{1, 1, 1}, Case{4, 4, 1}, Case{4, 2, 2}}) {
    const System system = chips_system(k.chips);
    sim::WorkloadOptions w;
    w.layer = "hidden=512,heads=8,kv_heads=4,intermediate=1024";
    w.layers = 4;
    w.batch = 2;
    w.pp = k.pp;
    w.micro_batches = k.micro;
    const sim::Compiled c = sim::compile_workload(system, "test", w);
    sim::SimulationInput in;
    in.system = &system;
    const sim::FunctionalResult f = sim::run_functional(in, c, {});
    ASSERT_EQ(f.outputs.size(), 9u * k.micro);  // 4 layers' K and V caches and the output
    for (const sim::TensorResult& t : f.outputs) {
      ASSERT_FALSE(t.reference.empty()) << t.name;
      const sim::Comparison cmp = sim::compare(t.values, t.reference, t.dtype);
      EXPECT_TRUE(cmp.within()) << k.chips << " chips, " << t.name << ": " << cmp.max_rel;
      if (k.chips == 1) one[t.name] = t.values;
      if (k.micro == 1 && k.chips > 1) {
        EXPECT_TRUE(sim::compare(t.values, one.at(t.name), t.dtype).within()) << t.name;
      }
    }
  }
}

}  // namespace
}  // namespace npusim

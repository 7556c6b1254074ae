// Whole models from Hugging Face style config.json files.
#include <gtest/gtest.h>

#include <tuple>

#include <fmt/format.h>

#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>

#include "arch/program_check.h"
#include "common/error.h"
#include "compiler/frontends/hf_config.h"
#include "compiler/frontends/model_graph.h"
#include "compiler/graph_util.h"
#include "sim/config.h"
#include "sim/memtest.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim::compiler {
namespace {

ModelSpec model(const std::string& name) {
  return load_hf_config(test::source_path("examples/models/" + name + ".json"));
}

uint64_t parameters(const Graph& g) {
  uint64_t n = 0;
  for (const auto& t : g.tensors()) n += t.is_parameter() ? num_elements(t) : 0;
  return n;
}

TEST(HfConfig, ShippedConfigsHaveThePublishedShapes) {
  const ModelSpec l7 = model("llama2-7b");
  EXPECT_EQ(l7.family, "llama");
  EXPECT_EQ(l7.hidden, 4096u);
  EXPECT_EQ(l7.layers, 32u);
  EXPECT_EQ(l7.kv_heads, 32u);
  EXPECT_EQ(l7.intermediate, 11008u);
  EXPECT_EQ(model("llama2-70b").kv_heads, 8u);
  EXPECT_EQ(model("llama3-8b").vocab, 128256u);
  EXPECT_EQ(model("opt-1.3b").intermediate, 8192u);
  EXPECT_EQ(model("opt-1.3b").mlp, MlpKind::Relu);
  EXPECT_EQ(model("gpt2").intermediate, 4 * 768u);
  EXPECT_TRUE(model("gpt2").tied_embeddings);
  EXPECT_EQ(model("mixtral-8x7b").experts, 8u);
  EXPECT_EQ(model("mixtral-8x7b").top_k, 2u);
  EXPECT_TRUE(model("qwen2-0.5b").attention_bias);
  EXPECT_EQ(model("qwen2-0.5b").head_dim, 64u);
}

TEST(HfConfig, EveryFamilyFileRegistersItsFamilies) {
  size_t files = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(test::source_path("compiler/frontends/families"))) {
    files += e.path().extension() == ".cpp";
  }
  EXPECT_EQ(files, 3u);  // gpt2, llama (llama, mistral, mixtral, qwen2), opt
  for (const char* f : {"llama", "mistral", "mixtral", "qwen2", "gpt2", "opt"}) {
    EXPECT_NE(FamilyRegistry::find(f), nullptr) << f;
  }
}

TEST(HfConfig, BadConfigsNameTheField) {
  auto error = [](const std::string& json) {
    try {
      (void)parse_hf_config(json, "c.json");
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string base =
      R"("model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, )";
  EXPECT_EQ(error("{" + base + R"("num_attention_heads": 4})"),
            "c.json: intermediate_size: is missing");
  EXPECT_EQ(error("{" + base + R"("num_attention_heads": -4, "intermediate_size": 8})"),
            "c.json: num_attention_heads: must be an integer between 1 and 65536, not -4");
  EXPECT_EQ(error("{" + base +
                  R"("num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 8})"),
            "c.json: num_key_value_heads: 3 must divide the 4 attention heads");
  EXPECT_NE(error(R"({"model_type": "t5"})").find("unknown model family 't5'"), std::string::npos);
  EXPECT_NE(error("{").find("not valid JSON"), std::string::npos);
}

TEST(ModelGraph, ParameterCountsMatchThePublishedModels) {
  DecodeShape s;
  EXPECT_EQ(parameters(build_model(model("gpt2"), s)), 124439808u);        // GPT-2 small
  EXPECT_EQ(parameters(build_model(model("llama2-7b"), s)), 6738415616u);  // Llama-2-7B
  EXPECT_EQ(parameters(build_model(model("opt-1.3b"), s)), 1315758080u);   // OPT-1.3B
}

TEST(ModelGraph, LearnedPositionsBoundTheKvLength) {
  DecodeShape s;
  s.kv_len = 1025;
  EXPECT_THROW((void)build_model(model("gpt2"), s), UserError);
}

// One decode token of a whole model on the ideal-memory preset.
Report decode(const std::string& name, uint64_t batch, uint64_t kv_len, const std::string& dtype,
              Graph* graph = nullptr) {
  const System system = test::preset();
  sim::WorkloadOptions w;
  w.model = test::source_path("examples/models/" + name + ".json");
  w.batch = batch;
  w.kv_len = kv_len;
  w.dtype = dtype;
  sim::Compiled c = sim::compile_workload(system, "preset", w);
  if (graph != nullptr) *graph = c.graph;
  return test::run(system, c.program);
}

TEST(WholeModel, Llama2_7bDecodeReadsEveryWeightOnceAndTheKvCache) {
  Graph g;
  const uint64_t L = 2048;
  const Report r = decode("llama2-7b", 1, L, "fp16", &g);
  const uint64_t embedding_table = 32000ull * 4096 * 2;
  // Every parameter but the embedding table is read once; of the table only
  // the token's row.
  EXPECT_EQ(r.traffic().read().weight(), 6738415616ull * 2 - embedding_table + 4096 * 2);
  EXPECT_EQ(r.traffic().read().kv_cache(), 2ull * 32 * 32 * 128 * L * 2);
  // No weight byte is read twice (the table's row counts as the part read).
  EXPECT_EQ(r.traffic().unique_read().weight(), r.traffic().read().weight());
  // Memory bound: within 5% of bytes / bandwidth on ideal memory.
  const double bytes =
      static_cast<double>(r.traffic().read().total() + r.traffic().written().total());
  EXPECT_LT(static_cast<double>(r.cycles()), 1.05 * bytes / 1000.0);
}

TEST(WholeModel, Llama2_7bDecodeOnHbm3TakesItsBytesAtMemtestsSequentialBandwidth) {
  // Issue 4 asks for the token's time within 10% of bytes read / the
  // bandwidth memtest sustains on sequential reads (of the DMA's request
  // size, as many in flight). Two of the 32 layers and the LM head keep the
  // test fast: they measure +2.5%, the full token +2.6% (3.581 ms against
  // 3.490 ms); 5% holds what was reached.
  const System system = test::hw("npu-hbm3");
  sim::WorkloadOptions w;
  w.model = test::source_path("examples/models/llama2-7b.json");
  w.kv_len = 2048;
  w.layers = 2;
  const Report r = test::run(system, sim::compile_workload(system, "npu-hbm3", w).program);
  sim::MemtestOptions o;
  o.pattern = "sequential";
  o.request_bytes = system.core().dma().max_request_bytes();
  o.outstanding = system.core().dma().outstanding();
  o.requests = 20000;
  const double gbps = sim::run_memtest(system, o).achieved_bandwidth_gbps();
  const double expected_ns = static_cast<double>(r.traffic().read().total()) / gbps;
  const double ns = static_cast<double>(r.cycles()) / system.core_clock_ghz();
  EXPECT_LT(ns, 1.05 * expected_ns);
  EXPECT_GT(ns, expected_ns);
  std::cout << "2 layers + LM head: " << ns << " ns, bytes / memtest " << expected_ns << " ns\n";
}

TEST(WholeModel, Int8AndInt4WeightsHalveAndQuarterTheWeightBytes) {
  const uint64_t fp16 = decode("gpt2", 1, 64, "fp16").traffic().read().weight();
  for (const auto& [dtype, per_byte] : {std::pair{"int8", 2}, {"int4", 4}}) {
    SCOPED_TRACE(dtype);
    Graph g;
    const uint64_t q = decode("gpt2", 1, 64, dtype, &g).traffic().read().weight();
    // Only the layers' projection matrices are quantised (embeddings, LM
    // head, norm gains and biases stay fp16), each read once per token: its
    // bytes halve or quarter, and its scales (fp16, a row per output column
    // in int8, per 128 input rows in int4) are read with it.
    uint64_t quantised = 0, scales = 0;
    for (const auto& t : g.tensors()) {
      if (t.dtype() == INT8 || t.dtype() == INT4) quantised += 2 * num_elements(t);
      if (t.name().size() > 7 && t.name().substr(t.name().size() - 7) == ".scales") {
        scales += t.size_bytes();
      }
    }
    EXPECT_GT(quantised, fp16 / 2);
    EXPECT_EQ(q, fp16 - quantised + quantised / per_byte + scales);
  }
}

}  // namespace
}  // namespace npusim::compiler

#include <set>

#include "compiler/frontends/moe_routing.h"

namespace npusim::compiler {
namespace {

// Weight bytes one Mixtral decode step reads, and the experts it uses.
struct MoeRun {
  uint64_t weight_read = 0;
  std::set<std::string> experts;  // "layers.L.experts.E." used by some node
  Graph graph;
};

MoeRun mixtral(uint64_t batch, uint64_t seed) {
  System system = test::preset({"memory.capacity_bytes=0"});  // 93 GB does not fit 64 GiB
  sim::WorkloadOptions w;
  w.model = test::source_path("examples/models/mixtral-8x7b.json");
  w.layers = 2;
  w.batch = batch;
  w.kv_len = 128;
  w.seed = seed;
  sim::Compiled c = sim::compile_workload(system, "preset", w);
  MoeRun r;
  r.weight_read = test::run(system, c.program).traffic().read().weight();
  for (const auto& node : c.graph.nodes()) {
    const auto at = node.name().find("experts.");
    if (at != std::string::npos) {
      r.experts.insert(node.name().substr(0, node.name().find('.', at + 8) + 1));
    }
  }
  r.graph = std::move(c.graph);
  return r;
}

std::set<std::string> expected_experts(uint64_t batch, uint64_t seed) {
  std::set<std::string> out;
  for (uint64_t layer = 0; layer < 2; ++layer) {
    for (const auto& token : moe_routing(seed, layer, batch, 8, 2)) {
      for (uint32_t e : token) out.insert(fmt::format("layers.{}.experts.{}.", layer, e));
    }
  }
  return out;
}

TEST(Moe, DecodeReadsOnlyTheExpertsTheRouterChose) {
  const uint64_t expert_bytes = 3ull * 4096 * 14336 * 2;
  for (uint64_t batch : {1, 32}) {
    const MoeRun a = mixtral(batch, 7);
    const auto chosen = expected_experts(batch, 7);
    EXPECT_EQ(a.experts, chosen) << "batch " << batch;
    if (batch == 1) {
      EXPECT_EQ(chosen.size(), 4u);  // two experts in each of two layers
    }
    // The same run with every expert chosen would read this much more.
    uint64_t dense = 0;
    for (const auto& t : a.graph.tensors()) {
      if (t.is_parameter() && t.name().find("experts.") == std::string::npos &&
          t.name() != "embed_tokens.weight") {
        dense += t.size_bytes();
      }
    }
    EXPECT_EQ(a.weight_read, dense + chosen.size() * expert_bytes + batch * 4096 * 2) << batch;
  }
  // The routing depends on the seed (determinism: DecoderLayer.TwoRunsGiveIdenticalReports).
  EXPECT_NE(expected_experts(4, 7), expected_experts(4, 8));
}

}  // namespace
}  // namespace npusim::compiler

namespace npusim::compiler {
namespace {

sim::WorkloadOptions prefill(const std::string& model, uint64_t prompt_len, uint64_t layers) {
  sim::WorkloadOptions w;
  w.model = test::source_path("examples/models/" + model + ".json");
  w.phase = "prefill";
  w.prompt_len = prompt_len;
  w.layers = layers;
  return w;
}

TEST(Prefill, WritesTheWholePromptToTheCacheAndReadsEachWeightOnce) {
  const System system = test::preset();
  sim::Compiled c = sim::compile_workload(system, "preset", prefill("gpt2", 256, 2));
  const Report r = test::run(system, c.program);
  // Keys and values of all 256 prompt tokens, 12 heads of 64, two layers.
  EXPECT_EQ(r.traffic().written().kv_cache(), 2ull * 2 * 256 * 768 * 2);
  uint64_t weights = 0;
  for (const auto& t : c.graph.tensors()) {
    if (t.is_parameter() && t.name().rfind("embed_", 0) != 0) weights += t.size_bytes();
  }
  // Every weight once; the tied LM head reads the whole token table, and the
  // embeddings read 256 rows of each table (tokens and positions).
  EXPECT_EQ(r.traffic().read().weight(), weights + 50257ull * 768 * 2 + 2 * 256 * 768 * 2);
}

TEST(Prefill, Llama2_7bPromptOf2048TokensIsComputeBound) {
  // One layer and the LM head on the teaching NPU (8 double-buffered 128x128
  // arrays, 1 TB/s).
  // Unfused attention: the fused one skips the causal mask's blocks, fewer
  // MACs in about the same time (49.9%).
  const System system = test::preset();
  sim::WorkloadOptions w = prefill("llama2-7b", 2048, 1);
  w.attention = "unfused";
  const Report r = test::run(system, sim::compile_workload(system, "preset", w).program);
  // Issue 4's bar; measured 51.7% (serial folds gave 41%, measured before
  // the KV append stored contiguous runs).
  EXPECT_GT(r.compute().array_utilization(), 0.50);
}

// Fused (flash) attention, the prefill default: the scores and
// probabilities never reach memory, and key blocks after a query block's
// last position are skipped.
TEST(Prefill, FusedAttentionKeepsTheScoresOnChipAndSkipsMaskedBlocks) {
  const System system = test::preset();
  // 32 query heads; Llama-3 shares each KV head among 4 (GQA), stacked in
  // a block of 256 rows: 64 tokens each.
  for (const auto& [model, batch, tokens, group] :
       {std::tuple{"llama2-7b", 1, 1024, 1}, {"llama3-8b", 2, 256, 4}}) {
    sim::WorkloadOptions w = prefill(model, tokens, 1);
    w.batch = batch;
    w.attention = "unfused";
    const sim::Compiled unfused = sim::compile_workload(system, "preset", w);
    w.attention = "auto";
    const sim::Compiled fused = sim::compile_workload(system, "preset", w);
    size_t attention = 0;
    for (const Node& n : fused.graph.nodes()) attention += n.op() == ATTENTION ? 1 : 0;
    EXPECT_EQ(attention, 1u) << model;
    sim::WorkloadOptions decode = w;  // decode's one row per head stays unfused, on chip
    decode.phase = "decode";
    const sim::Compiled decoded = sim::compile_workload(system, "preset", decode);
    for (const Node& n : decoded.graph.nodes()) {
      EXPECT_NE(n.op(), ATTENTION) << n.name();
    }
    for (const Tensor& t : fused.graph.tensors()) {
      EXPECT_EQ(t.name().find("scores"), std::string::npos) << t.name();
      EXPECT_EQ(t.name().find("probs"), std::string::npos) << t.name();
    }
    const Report u = test::run(system, unfused.program), f = test::run(system, fused.program);
    EXPECT_LT(f.seconds(), 1.1 * u.seconds()) << model;
    // Unfused writes the fp16 scores and probabilities: 2 x heads x T x L.
    const uint64_t s2 = 2ull * batch * 32 * tokens * tokens * 2;
    EXPECT_EQ(u.traffic().written().total() - f.traffic().written().total(), s2) << model;
    // Score and context tiles of tq query tokens see tq, 2 tq, ... keys (d 128).
    const uint64_t tq = 256 / group;
    uint64_t causal = 0;
    for (uint64_t t0 = 0; t0 < static_cast<uint64_t>(tokens); t0 += tq) causal += t0 + tq;
    const uint64_t full = 2ull * batch * 32 * tokens * tokens * 128;
    EXPECT_EQ(u.compute().macs() - f.compute().macs(), full - 2ull * batch * 32 * tq * 128 * causal)
        << model;
  }
}

// The fused attention's rings share their ring with the forwarded
// activations' and take weight slots: on any scratchpad and array count the
// layout stays inside the scratchpad, or the compiler says it is too small.
TEST(Prefill, FusedAttentionRingsFitEveryScratchpad) {
  sim::WorkloadOptions w;  // a small layer with Llama's 128-wide heads
  w.layer = "hidden=1024,heads=8,kv_heads=2,intermediate=2048";
  w.phase = "prefill";
  w.prompt_len = 512;
  for (uint64_t mib : {1, 2, 4, 16, 64}) {
    for (uint32_t arrays : {1, 8, 32}) {
      const System system =
          test::preset({fmt::format("core.scratchpad.capacity_bytes={}", mib << 20),
                        "core.scratchpad.banks=16", fmt::format("core.array.count={}", arrays)});
      try {
        const sim::Compiled c = sim::compile_workload(system, "preset", w);
        EXPECT_NO_THROW(
            (void)arch::check_program(c.program, {mib << 20, {arch::MemoryLimit{}}}, "program"))
            << mib << " MiB, " << arrays << " arrays";
      } catch (const UserError& e) {
        EXPECT_NE(std::string(e.what()).find("core.scratchpad.capacity_bytes"), std::string::npos)
            << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace npusim::compiler

namespace npusim::compiler {
namespace {

Report run_workload(const sim::WorkloadOptions& w) {
  const System system = test::preset();
  return test::run(system, sim::compile_workload(system, "preset", w).program);
}

TEST(GraphInput, OwnGraphsRoundTripAsTextAndBinary) {
  sim::WorkloadOptions w;
  w.layer = "tiny";
  w.batch = 2;
  const Graph g = sim::build_graph(w);
  const std::string text = ::testing::TempDir() + "/g.textproto";
  const std::string binary = ::testing::TempDir() + "/g.pb";
  {
    std::string s;
    google::protobuf::TextFormat::PrintToString(g, &s);
    std::ofstream(text) << s;
    std::ofstream(binary, std::ios::binary) << g.SerializeAsString();
  }
  const uint64_t cycles = run_workload(w).cycles();
  for (const auto& path : {text, binary}) {
    sim::WorkloadOptions from_file;
    from_file.model = path;
    EXPECT_EQ(run_workload(from_file).cycles(), cycles) << path;
  }
  const std::string cut = ::testing::TempDir() + "/cut.pb";
  std::ofstream(cut, std::ios::binary) << g.SerializeAsString().substr(0, 100);
  EXPECT_THROW((void)sim::load_graph(cut), UserError);
}

TEST(Precision, EachTensorClassHasItsOwnPrecision) {
  sim::WorkloadOptions w;
  w.layer = "tiny";
  w.kv_len = 256;
  const Report fp16 = run_workload(w);
  w.kv_dtype = "fp8";
  const Report kv8 = run_workload(w);
  EXPECT_EQ(kv8.traffic().read().kv_cache() * 2, fp16.traffic().read().kv_cache());
  EXPECT_EQ(kv8.traffic().read().weight(), fp16.traffic().read().weight());
  w.kv_dtype.clear();
  w.activation_dtype = "fp32";
  const Report act32 = run_workload(w);
  EXPECT_GT(act32.traffic().read().activation(), fp16.traffic().read().activation());
  EXPECT_EQ(act32.traffic().read().kv_cache(), 2 * fp16.traffic().read().kv_cache());
  w.dtype = "fp4";
  EXPECT_THROW((void)run_workload(w), UserError);
}

}  // namespace
}  // namespace npusim::compiler

// Functional mode: compiled programs executed with data compute what the
// untiled graph computes (compiler/reference), whatever tiling, orientation
// and loop order the compiler picks, and the timing does not change.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <tuple>

#include <fmt/ranges.h>

#include "common/vector_math.h"
#include "compiler/reference/reference.h"
#include "sim/functional_data.h"
#include "sim/functional_run.h"
#include "sim/report_io.h"
#include "sim/simulator.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

struct FunctionalRun {
  sim::Compiled compiled;
  Report timing_only, functional;
  std::vector<float> expected, actual;
  std::map<std::string, int64_t> tiling;  // the first node's tile.* decisions
};

// Compiles the graph at `path` for `system`, runs it with seeded data
// (sim::run_functional) and without, and takes its output `out` and the
// reference interpreter's.
FunctionalRun run_functional(const System& system, const sim::WorkloadOptions& w,
                             const std::string& out) {
  FunctionalRun r;
  r.compiled = sim::compile_workload(system, "preset", w);
  for (const auto& [key, value] : r.compiled.tiled.nodes(0).attrs()) r.tiling[key] = value.i();
  sim::SimulationInput in;
  in.system = &system;
  in.program = &r.compiled.program;
  r.timing_only = sim::simulate(in);
  sim::FunctionalOptions options;
  options.seed = 7;
  const sim::FunctionalResult f = sim::run_functional(in, r.compiled, options);
  r.functional = f.report;
  EXPECT_EQ(f.reference_error, "");
  for (const sim::TensorResult& t : f.outputs) {
    if (t.name != out) continue;
    r.actual = t.values;
    r.expected = t.reference;
  }
  EXPECT_FALSE(r.actual.empty()) << out << " is not an output";
  return r;
}

FunctionalRun run_functional(const System& system, const std::string& path,
                             const std::string& out = "y") {
  sim::WorkloadOptions w;
  w.model = path;
  return run_functional(system, w, out);
}

// Every element within an fp16 rounding (the sums' order differs) of the
// reference; returns the largest error relative to the output's scale.
double max_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  EXPECT_EQ(actual.size(), expected.size());
  double scale = 0;
  for (float e : expected) scale = std::max(scale, static_cast<double>(std::fabs(e)));
  double worst = 0;
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    EXPECT_LE(err, std::ldexp(std::fabs(expected[i]), -10) + 1e-3 * scale) << "element " << i;
    worst = std::max(worst, err / scale);
  }
  return worst;
}

TEST(Functional, ChangesNoTiming) {
  const System system = test::preset();
  const FunctionalRun r = run_functional(system, test::matmul_graph("mm", 8, 256, 384));
  EXPECT_EQ(sim::to_json(r.functional), sim::to_json(r.timing_only));
}

TEST(Functional, AStreamedGemmComputesTheGraph) {
  // Row tiles of A and tiles of the output of their own, a K loop over
  // two tiles (64 + 32) summed in fp32, partial tiles of M.
  const System system = test::preset({"core.scratchpad.capacity_bytes=262144"});
  const FunctionalRun r = run_functional(system, test::matmul_graph("mm", 200, 96, 24));
  EXPECT_EQ(r.tiling.at("tile.out_whole"), 0);
  EXPECT_LT(r.tiling.at("tile.k"), 96);
  EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
}

// Small scratchpads, one array and odd shapes force K loops, partial tiles,
// both orientations and both loop orders, whole outputs summed over a K loop
// in tile buffers of their own, K loops interleaved in groups (their
// partial sums sharing output slots) and weights packed for each: all
// compute the same numbers.
TEST(Functional, EveryTilingComputesTheSameNumbers) {
  std::set<std::string> seen;
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {},
           {"core.scratchpad.capacity_bytes=262144"},
           {"core.scratchpad.capacity_bytes=131072", "core.array.count=1"},
           {"core.scratchpad.capacity_bytes=131072"},
           {"core.array.rows=16", "core.array.cols=16"}}) {
    for (const auto& [m, k, n] : {std::tuple<int, int, int>{1, 300, 200},
                                  {37, 200, 130},
                                  {200, 96, 24},
                                  {130, 520, 70},
                                  {300, 700, 200},
                                  {520, 300, 24}}) {
      const System system = test::preset(sets);
      const std::string name = fmt::format("mm_{}_{}_{}", m, k, n);
      const FunctionalRun r = run_functional(system, test::matmul_graph(name, m, k, n));
      SCOPED_TRACE(fmt::format("{} on {}", name, fmt::join(sets, " ")));
      const bool k_loop = r.tiling.at("tile.k") < k;
      seen.insert(fmt::format("transposed={} rows_outer={} out_whole={} k_loop={}",
                              r.tiling.at("tile.transposed"), r.tiling.at("tile.rows_outer"),
                              r.tiling.at("tile.out_whole"), k_loop));
      if (k_loop && r.tiling.at("tile.group") > 1) {
        seen.insert(fmt::format("grouped rows_outer={}", r.tiling.at("tile.rows_outer")));
      }
      if (k_loop && r.tiling.at("tile.accumulators_per_slot") > 1) seen.insert("shared slots");
    }
  }
  // The decisions the cases are there to reach.
  for (const char* wanted : {"transposed=1 rows_outer=0 out_whole=0 k_loop=true",
                             "transposed=0 rows_outer=0 out_whole=1 k_loop=true",
                             "transposed=1 rows_outer=0 out_whole=1 k_loop=true",
                             "transposed=1 rows_outer=1 out_whole=0 k_loop=true",
                             "grouped rows_outer=0", "grouped rows_outer=1", "shared slots"}) {
    EXPECT_EQ(seen.count(wanted), 1u)
        << wanted << " among " << fmt::format("{}", fmt::join(seen, "; "));
  }
}

// Problems whose K loops interleave: decode attention on a small
// scratchpad takes each head's context as a K loop over its 600 keys, and
// the heads' loops go step by step together (tile.problems).
TEST(Functional, InterleavedProblemsComputeTheGraph) {
  const System system = test::preset({"core.scratchpad.capacity_bytes=262144"});
  sim::WorkloadOptions w;
  w.layer = "tiny";
  w.layers = 1;
  w.batch = 2;
  w.kv_len = 600;
  const sim::Compiled c = sim::compile_workload(system, "test", w);
  int64_t problems = 0;
  for (const Node& n : c.tiled.nodes()) {
    if (n.op() == ATTENTION_CONTEXT) problems = n.attrs().at("tile.problems").i();
  }
  EXPECT_GT(problems, 1);
  EXPECT_FALSE(test::functional_outputs(system, w, 5).empty());  // each against the reference
}

// Weight-only quantisation: INT8 weights with a scale per output column,
// INT4 with a scale per group of input rows (groups that tiles cut through,
// or that hold several tiles), dequantised as they enter the arrays, in
// every tiling the cases reach.
std::string quantised_matmul_graph(const std::string& name, int m, int k, int n, const char* dtype,
                                   int group) {
  const std::string path = ::testing::TempDir() + name + ".textproto";
  std::ofstream(path) << fmt::format(
      "name: \"{0}\"\n"
      "tensors {{ name: \"x\" shape: [{1}, {2}] dtype: FP16 tensor_class: ACTIVATION }}\n"
      "tensors {{ name: \"w\" shape: [{2}, {3}] dtype: {4} tensor_class: WEIGHT "
      "is_parameter: true }}\n"
      "tensors {{ name: \"s\" shape: [{5}, {3}] dtype: FP16 tensor_class: WEIGHT "
      "is_parameter: true }}\n"
      "tensors {{ name: \"y\" shape: [{1}, {3}] dtype: FP16 tensor_class: ACTIVATION }}\n"
      "nodes {{ name: \"{0}\" op: MATMUL inputs: [\"x\", \"w\", \"s\"] outputs: [\"y\"] "
      "attrs {{ key: \"scale_group\" value {{ i: {6} }} }} }}\n",
      name, m, k, n, dtype, (k + group - 1) / group, group);
  return path;
}

TEST(Functional, QuantisedWeightsAreDequantisedInEveryTiling) {
  std::set<std::string> seen;
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {},
           {"core.scratchpad.capacity_bytes=131072", "core.array.count=1"},
           {"core.array.rows=16", "core.array.cols=16"}}) {
    for (const auto& [m, k, n] :
         {std::tuple<int, int, int>{1, 300, 200}, {37, 200, 130}, {200, 96, 24}, {130, 520, 70}}) {
      for (const auto& [dtype, group] :
           {std::pair<const char*, int>{"INT8", k}, {"INT4", std::min(128, k)}, {"INT4", 48}}) {
        const std::string name = fmt::format("q_{}_{}_{}_{}_{}", m, k, n, dtype, group);
        SCOPED_TRACE(fmt::format("{} on {}", name, fmt::join(sets, " ")));
        const FunctionalRun r =
            run_functional(test::preset(sets), quantised_matmul_graph(name, m, k, n, dtype, group));
        EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
        seen.insert(fmt::format("transposed={} k_loop={}", r.tiling.at("tile.transposed"),
                                r.tiling.at("tile.k") < k));
      }
    }
  }
  // Both orientations (the weight as B, and as A in a transposed tile),
  // with and without a K loop (scales of a tile's first group at an offset).
  for (const char* wanted :
       {"transposed=0 k_loop=true", "transposed=1 k_loop=true", "transposed=1 k_loop=false"}) {
    EXPECT_EQ(seen.count(wanted), 1u)
        << wanted << " among " << fmt::format("{}", fmt::join(seen, "; "));
  }
}

// A block of vector ops between two GEMMs, the activations forwarded on
// chip between them (or, on a small scratchpad, through memory): norms with
// their eps, a bias row, GELU, SwiGLU, a residual add, a softmax and a
// product, as the graph says.
std::string vector_block_graph() {
  const std::string path = ::testing::TempDir() + "vector_block.textproto";
  std::string t;
  auto tensor = [&](const char* name, const char* shape, const char* cls) {
    t += fmt::format("tensors {{ name: \"{}\" shape: [{}] dtype: FP16 tensor_class: {}{} }}\n",
                     name, shape, cls, std::string(cls) == "WEIGHT" ? " is_parameter: true" : "");
  };
  auto node = [&](const char* name, const char* op, const char* ins, const char* out,
                  const char* attrs = "") {
    t += fmt::format("nodes {{ name: \"{}\" op: {} inputs: [{}] outputs: [\"{}\"] {} }}\n", name,
                     op, ins, out, attrs);
  };
  for (const char* a : {"x", "n", "r", "sm", "m", "y"}) tensor(a, "4, 256", "ACTIVATION");
  for (const char* a : {"h", "hb", "g1", "s"}) tensor(a, "4, 512", "ACTIVATION");
  tensor("o", "4, 256", "ACTIVATION");
  tensor("w1", "256, 512", "WEIGHT");
  tensor("w2", "512, 256", "WEIGHT");
  tensor("b1", "512", "WEIGHT");
  for (const char* a : {"g", "g2", "b2"}) tensor(a, "256", "WEIGHT");
  node("norm", "RMS_NORM", "\"x\", \"g\"", "n", "attrs { key: \"eps\" value { f: 1e-6 } }");
  node("up", "MATMUL", "\"n\", \"w1\"", "h");
  node("bias", "BIAS_ADD", "\"h\", \"b1\"", "hb");
  node("gelu", "GELU_OP", "\"hb\"", "g1");
  node("gate", "SWIGLU_OP", "\"g1\", \"h\"", "s");
  node("down", "MATMUL", "\"s\", \"w2\"", "o");
  node("residual", "ADD_OP", "\"x\", \"o\"", "r");
  node("softmax", "SOFTMAX_OP", "\"r\"", "sm");
  node("product", "MUL_OP", "\"sm\", \"r\"", "m");
  node("ln", "LAYER_NORM", "\"m\", \"g2\", \"b2\"", "y",
       "attrs { key: \"eps\" value { f: 1e-5 } }");
  std::ofstream(path) << "name: \"vector_block\"\n" << t;
  return path;
}

TEST(Functional, VectorOpsBetweenGemmsComputeTheGraph) {
  for (const auto& sets :
       std::vector<std::vector<std::string>>{{}, {"core.scratchpad.capacity_bytes=131072"}}) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(sets, " ")));
    const FunctionalRun r = run_functional(test::preset(sets), vector_block_graph());
    EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
    EXPECT_EQ(sim::to_json(r.functional), sim::to_json(r.timing_only));
  }
}

// RoPE on a projection's output, two sequences of three new tokens after
// five cached ones, 16 heads of 16: each head rotated by its token's
// position, whether the projection leaves it on chip or in memory, and
// whether the vector unit takes all heads at once or a few at a time.
TEST(Functional, RotaryEmbeddingRotatesEachHeadByItsPosition) {
  const std::string path = ::testing::TempDir() + "rope.textproto";
  std::ofstream(path) << R"(name: "rope"
tensors { name: "x" shape: [6, 256] dtype: FP16 tensor_class: ACTIVATION }
tensors { name: "w" shape: [256, 256] dtype: FP16 tensor_class: WEIGHT is_parameter: true }
tensors { name: "q" shape: [6, 256] dtype: FP16 tensor_class: ACTIVATION }
tensors { name: "y" shape: [6, 256] dtype: FP16 tensor_class: ACTIVATION }
nodes { name: "proj" op: MATMUL inputs: ["x", "w"] outputs: ["q"] }
nodes { name: "rope" op: ROTARY inputs: ["q"] outputs: ["y"]
        attrs { key: "head_dim" value { i: 16 } } attrs { key: "position" value { i: 5 } }
        attrs { key: "tokens" value { i: 3 } } attrs { key: "theta" value { f: 500000 } } }
)";
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {},
           {"core.scratchpad.forward_activations=false"},
           // Vector slots of 1 KiB: 32 heads per op, first_row counting on.
           {"core.scratchpad.capacity_bytes=65536"}}) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(sets, " ")));
    const FunctionalRun r = run_functional(test::preset(sets), path);
    EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
  }
}

// The rotation itself: position 0 leaves a head as it is; a quarter turn of
// the first pair at theta^0 = 1 (position pi/2 is not an integer, so
// position 1 against cos(1), sin(1)).
TEST(Functional, RotateHalfPairsElementIWithIPlusHalf) {
  const std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> out(4);
  rope(x.data(), 4, 10000, 0, out.data());
  EXPECT_EQ(out, x);
  rope(x.data(), 4, 10000, 1, out.data());
  EXPECT_NEAR(out[0], 1 * std::cos(1.0) - 3 * std::sin(1.0), 1e-6);
  EXPECT_NEAR(out[2], 3 * std::cos(1.0) + 1 * std::sin(1.0), 1e-6);
  const double a = std::pow(10000.0, -0.5);  // the second pair's frequency
  EXPECT_NEAR(out[1], 2 * std::cos(a) - 4 * std::sin(a), 1e-6);
  EXPECT_NEAR(out[3], 4 * std::cos(a) + 2 * std::sin(a), 1e-6);
}

// A whole decoder layer (RMSNorm, Q/K/V projections, RoPE, grouped-query
// attention over a KV cache the new tokens are appended to, softmax over
// 1/sqrt(d) with the causal mask, SwiGLU MLP, residuals): decode of two
// sequences, and prefill of three prompts, each through the scratchpad
// forwarding and through memory, compute what the graph computes.
TEST(Functional, ADecoderLayerComputesTheGraphInDecodeAndPrefill) {
  for (const char* phase : {"decode", "prefill"}) {
    for (const auto& sets :
         std::vector<std::vector<std::string>>{{}, {"core.scratchpad.capacity_bytes=262144"}}) {
      SCOPED_TRACE(fmt::format("{} {}", phase, fmt::join(sets, " ")));
      sim::WorkloadOptions w;
      w.layer = "tiny";
      w.phase = phase;
      w.batch = std::string(phase) == "decode" ? 2 : 3;
      w.kv_len = 40;
      w.prompt_len = 20;
      w.attention = "unfused";
      const FunctionalRun r = run_functional(test::preset(sets), w, "layers.0.out");
      EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
      EXPECT_EQ(sim::to_json(r.functional), sim::to_json(r.timing_only));
    }
  }
}

// Fused (flash) attention over many blocks of keys and of query rows: the
// online softmax carries each row's maximum and sum from block to block, the
// causal mask cuts through blocks, and the result is the softmax the unfused
// graph computes. 32x32 arrays make blocks of 32 keys.
TEST(Functional, FusedAttentionCarriesItsSoftmaxAcrossKeyBlocks) {
  for (const char* phase : {"decode", "prefill"}) {
    for (const auto& sets : std::vector<std::vector<std::string>>{
             {"core.array.rows=32", "core.array.cols=32"},
             {"core.array.rows=32", "core.array.cols=32", "core.array.count=1",
              "core.scratchpad.capacity_bytes=262144"}}) {
      SCOPED_TRACE(fmt::format("{} {}", phase, fmt::join(sets, " ")));
      sim::WorkloadOptions w;
      w.layer = "tiny";
      w.phase = phase;
      w.batch = 2;
      w.kv_len = 150;
      w.prompt_len = 70;
      w.attention = "fused";
      const FunctionalRun r = run_functional(test::preset(sets), w, "layers.0.out");
      EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
      EXPECT_EQ(sim::to_json(r.functional), sim::to_json(r.timing_only));
      int fused = 0;
      for (const Node& n : r.compiled.tiled.nodes()) {
        if (n.op() != ATTENTION) continue;
        ++fused;
        EXPECT_EQ(n.attrs().at("flash.tk").i(), 32);  // 150 keys in 5 blocks
        // The small scratchpad splits the 70 prompt tokens into blocks of query rows.
        if (sets.size() > 2 && std::string(phase) == "prefill") {
          EXPECT_LT(n.attrs().at("flash.tq").i(), 70);
        }
      }
      EXPECT_EQ(fused, 1);
    }
  }
}

// Two decode steps, the second reading the caches the first appended to,
// compute what a prefill of both tokens computes: step 1 at position 0
// (kv_len 1), step 2 at position 1 given step 1's caches; the prefill of
// the 2 tokens by the reference interpreter.
TEST(Functional, TwoDecodeStepsReadWhatTheFirstAppendedAsAPrefillOfBoth) {
  const uint64_t B = 2, kv = 2, d = 64, H = 256;  // the tiny layer: GQA, 2 KV heads of 64
  auto workload = [&](const char* phase, uint64_t kv_len) {
    sim::WorkloadOptions w;
    w.layer = "tiny";
    w.phase = phase;
    w.batch = B;
    if (std::string(phase) == "decode") w.kv_len = kv_len;
    w.prompt_len = 2;
    w.attention = "unfused";
    return w;
  };
  const System system = test::preset();
  auto run = [&](const sim::Compiled& c, const compiler::TensorValues& given) {
    sim::FunctionalOptions o;
    o.seed = 3;
    o.reference = false;
    for (const auto& [name, values] : given) o.inputs.push_back({name, "test", {}, values});
    const compiler::TensorIndex tensors(c.graph);
    for (auto& in : o.inputs) {
      const Tensor& t = tensors.at(in.name, "test");
      in.shape.assign(t.shape().begin(), t.shape().end());
    }
    sim::SimulationInput in;
    in.system = &system;
    std::map<std::string, std::vector<float>> out;
    for (sim::TensorResult& t : sim::run_functional(in, c, o).outputs) out[t.name] = t.values;
    return out;
  };
  // Caches of `len` positions from ones of `from` positions (the rest 0).
  auto resized = [&](const std::vector<float>& cache, uint64_t from, uint64_t len) {
    std::vector<float> out(B * kv * len * d, 0.0f);
    for (uint64_t bg = 0; bg < B * kv; ++bg) {
      for (uint64_t p = 0; p < std::min(from, len); ++p) {
        std::copy_n(cache.begin() + static_cast<std::ptrdiff_t>((bg * from + p) * d), d,
                    out.begin() + static_cast<std::ptrdiff_t>((bg * len + p) * d));
      }
    }
    return out;
  };
  const sim::Compiled step1 = sim::compile_workload(system, "preset", workload("decode", 1));
  const sim::Compiled step2 = sim::compile_workload(system, "preset", workload("decode", 2));
  const compiler::TensorValues seeded1 = sim::seeded_inputs(step1.graph, 3);
  const compiler::TensorValues seeded2 = sim::seeded_inputs(step2.graph, 3);
  auto first = run(step1, {});
  auto second = run(step2, {{"layers.0.k_cache", resized(first.at("layers.0.k_cache"), 1, 2)},
                            {"layers.0.v_cache", resized(first.at("layers.0.v_cache"), 1, 2)}});

  const sim::Compiled prefill = sim::compile_workload(system, "preset", workload("prefill", 2));
  compiler::TensorValues inputs = sim::seeded_inputs(prefill.graph, 3);  // the same weights
  std::vector<float>& x = inputs.at("input");  // [B * 2, H]: each sequence's two tokens
  for (uint64_t b = 0; b < B; ++b) {
    std::copy_n(seeded1.at("input").begin() + static_cast<std::ptrdiff_t>(b * H), H,
                x.begin() + static_cast<std::ptrdiff_t>(2 * b * H));
    std::copy_n(seeded2.at("input").begin() + static_cast<std::ptrdiff_t>(b * H), H,
                x.begin() + static_cast<std::ptrdiff_t>((2 * b + 1) * H));
  }
  const std::vector<float> both = compiler::interpret(prefill.graph, inputs).at("layers.0.out");
  std::vector<float> expected1, expected2;
  for (uint64_t b = 0; b < B; ++b) {
    expected1.insert(expected1.end(), both.begin() + static_cast<std::ptrdiff_t>(2 * b * H),
                     both.begin() + static_cast<std::ptrdiff_t>((2 * b + 1) * H));
    expected2.insert(expected2.end(), both.begin() + static_cast<std::ptrdiff_t>((2 * b + 1) * H),
                     both.begin() + static_cast<std::ptrdiff_t>((2 * b + 2) * H));
  }
  EXPECT_LT(max_error(first.at("layers.0.out"), expected1), 2e-3);
  EXPECT_LT(max_error(second.at("layers.0.out"), expected2), 2e-3);
  // Step 2 without step 1's appends (the seeded caches) computes something else.
  auto stale = run(step2, {});
  EXPECT_GT(sim::compare(stale.at("layers.0.out"), expected2, FP16).max_rel, 0.05);
}

// Whole models of each dense family at small dimensions (two layers and
// vocabularies of 1000): token and position embeddings, the norms and MLPs
// of each, biases, tied heads, GQA; decode of 3 sequences and prefill of 16
// tokens compute the logits the graph computes.
TEST(Functional, EveryModelFamilyComputesItsLogits) {
  const std::vector<std::pair<const char*, const char*>> models = {
      {"llama", R"({"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
        "vocab_size": 1000, "rms_norm_eps": 1e-6, "rope_theta": 500000.0})"},
      {"qwen2", R"({"model_type": "qwen2", "hidden_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
        "vocab_size": 1000, "tie_word_embeddings": true})"},
      {"gpt2", R"({"model_type": "gpt2", "n_embd": 256, "n_layer": 2, "n_head": 4,
        "vocab_size": 1000, "n_positions": 128})"},
      {"opt", R"({"model_type": "opt", "hidden_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "ffn_dim": 512, "vocab_size": 1000,
        "max_position_embeddings": 128, "word_embed_proj_dim": 256})"},
      // Top-2 of 4 experts: tokens routed to two experts land twice.
      {"mixtral", R"({"model_type": "mixtral", "hidden_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
        "vocab_size": 1000, "num_local_experts": 4, "num_experts_per_tok": 2})"}};
  for (const auto& [family, json] : models) {
    const std::string path = ::testing::TempDir() + family + ".json";
    std::ofstream(path) << json;
    for (const char* phase : {"decode", "prefill"}) {
      for (const char* attention : {"unfused", "fused"}) {
        SCOPED_TRACE(fmt::format("{} {} {}", family, phase, attention));
        sim::WorkloadOptions w;
        w.model = path;
        w.phase = phase;
        w.batch = std::string(phase) == "decode" ? 3 : 1;
        w.kv_len = 24;
        w.prompt_len = 16;
        w.attention = attention;
        const FunctionalRun r = run_functional(test::preset(), w, "logits");
        EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
      }
    }
  }
}

// Mixture-of-experts combine: part rows land on the listed output rows,
// twice where a row is listed twice, on zeros or on an accumulator, weighed
// by their gates (top-2 router probabilities renormalised), whether a vector
// buffer holds every output row or a few.
TEST(Functional, ScatterAddLandsEveryListedRow) {
  for (const uint64_t width : {64, 1024}) {
    SCOPED_TRACE(width);
    const std::string path = ::testing::TempDir() + fmt::format("scatter{}.textproto", width);
    std::ofstream(path) << fmt::format(
        "name: \"scatter\"\n"
        "tensors {{ name: \"x\" shape: [6, {0}] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "tensors {{ name: \"g\" shape: [4, {0}] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "tensors {{ name: \"y\" shape: [6, {0}] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "tensors {{ name: \"z\" shape: [6, {0}] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "nodes {{ name: \"dispatch\" op: GATHER_ROWS inputs: [\"x\"] outputs: [\"g\"] "
        "attrs {{ key: \"rows\" value {{ s: \"5,0,3,3\" }} }} }}\n"
        "nodes {{ name: \"first\" op: SCATTER_ADD inputs: [\"g\"] outputs: [\"y\"] "
        "attrs {{ key: \"rows\" value {{ s: \"1,4,1,5\" }} }} }}\n"
        "nodes {{ name: \"second\" op: SCATTER_ADD inputs: [\"g\", \"y\"] outputs: [\"z\"] "
        "attrs {{ key: \"rows\" value {{ s: \"0,2,0,2\" }} }} }}\n"
        // Gated, as Mixtral weighs its experts: top-2 of 3 renormalised.
        "tensors {{ name: \"logits\" shape: [6, 3] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "tensors {{ name: \"probs\" shape: [6, 3] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "tensors {{ name: \"gates\" shape: [6, 2] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "tensors {{ name: \"out\" shape: [6, {0}] dtype: FP16 tensor_class: ACTIVATION }}\n"
        "nodes {{ name: \"router\" op: SOFTMAX_OP inputs: [\"logits\"] outputs: [\"probs\"] }}\n"
        "nodes {{ name: \"gating\" op: MOE_GATES inputs: [\"probs\"] outputs: [\"gates\"] "
        "attrs {{ key: \"experts\" value {{ s: \"0,1,2,0,1,2,0,2,1,0,2,1\" }} }} }}\n"
        "nodes {{ name: \"third\" op: SCATTER_ADD inputs: [\"g\", \"z\", \"gates\"] "
        "outputs: [\"out\"] attrs {{ key: \"rows\" value {{ s: \"0,2,4,5\" }} }} "
        "attrs {{ key: \"slots\" value {{ s: \"0,1,0,1\" }} }} }}\n",
        width);
    const System system = test::preset({"core.scratchpad.capacity_bytes=262144"});
    const FunctionalRun r = run_functional(system, path, "out");
    EXPECT_LT(max_error(r.actual, r.expected), 1e-3);
    // Row 1 holds x[5] + x[3]; row 3, where no part lands, stays zero.
    ASSERT_EQ(r.actual.size(), 6 * width);
    EXPECT_NE(r.expected[1 * width], 0.0f);
    for (uint64_t c = 0; c < width; ++c) EXPECT_EQ(r.actual[3 * width + c], 0.0f);
  }
}

// A model with INT8 or INT4 projections (embeddings and LM head in fp16, as
// GPTQ and AWQ leave them) computes the logits its graph computes.
TEST(Functional, QuantisedModelsComputeTheirLogits) {
  const std::string path = ::testing::TempDir() + "llama_q.json";
  std::ofstream(path) << R"({"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
        "vocab_size": 1000})";
  for (const char* dtype : {"int8", "int4"}) {
    for (const char* phase : {"decode", "prefill"}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype, phase));
      sim::WorkloadOptions w;
      w.model = path;
      w.dtype = dtype;
      w.phase = phase;
      w.batch = std::string(phase) == "decode" ? 3 : 1;
      w.kv_len = 24;
      w.prompt_len = 16;
      const FunctionalRun r = run_functional(test::preset(), w, "logits");
      EXPECT_LT(max_error(r.actual, r.expected), 2e-3);
      const compiler::TensorIndex tensors(r.compiled.graph);
      EXPECT_EQ(tensors.at("layers.0.down_proj.scales", "test").shape(0),
                std::string(dtype) == "int8" ? 1 : 4);  // 512 rows: one scale, or groups of 128
      EXPECT_EQ(tensors.at("lm_head.weight", "test").dtype(), FP16);
    }
  }
}

// A deliberately broken lowering is caught: one tile's weight load moved by
// one row gives wrong numbers.
TEST(Functional, AnOffByOneTileAddressIsCaught) {
  const System system = test::preset({"core.scratchpad.capacity_bytes=262144"});
  sim::WorkloadOptions w;  // the shape AStreamedGemmComputesTheGraph computes right
  w.model = test::matmul_graph("broken", 200, 96, 24);
  sim::Compiled c = sim::compile_workload(system, "preset", w);
  const compiler::TensorIndex tensors(c.graph);
  const Tensor& weight = tensors.at("w", "test");
  bool broken = false;
  for (Instruction& ins : *c.program.mutable_cores(0)->mutable_dma()) {
    DmaOp& op = *ins.mutable_dma();
    if (!broken && op.direction() == DmaOp::LOAD && op.dram_addr() > weight.address() &&
        op.dram_addr() < weight.address() + weight.size_bytes()) {
      op.set_dram_addr(op.dram_addr() - 2 * 24);  // the row before
      broken = true;
    }
  }
  ASSERT_TRUE(broken);
  const compiler::TensorValues inputs = sim::seeded_inputs(c.graph, 7);
  arch::MemoryImage image;
  sim::write_inputs(image, c.tiled, inputs);
  sim::SimulationInput in;
  in.system = &system;
  in.program = &c.program;
  in.memory_image = &image;
  (void)sim::simulate(in);
  const std::vector<float> actual = sim::read_tensor(image, tensors.at("y", "t"));
  const std::vector<float> expected = compiler::interpret(c.graph, inputs).at("y");
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(actual[i] - expected[i])));
  }
  // The outputs are about 0.3 in size and right to an fp16 rounding (3e-4)
  // when the load is right: a row's worth of wrong weights is far past that.
  EXPECT_GT(worst, 0.01);
}

}  // namespace
}  // namespace npusim

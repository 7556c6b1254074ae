// compiler/graph_check: every graph a frontend builds passes it; a broken one
// is refused naming the file, the tensor or node and the constraint; and the
// limits that keep bad input from exhausting memory (the program budget,
// overflow-checked sizes).
#include <gtest/gtest.h>

#include <google/protobuf/text_format.h>

#include <filesystem>
#include <string>

#include "common/checked.h"
#include "common/error.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/frontends/hf_config.h"
#include "compiler/frontends/model_graph.h"
#include "compiler/graph_check.h"
#include "compiler/program_builder.h"
#include "test_util.h"

namespace npusim::compiler {
namespace {

using test::error_of;

Graph parse(const std::string& text) {
  Graph g;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &g)) << text;
  return g;
}

// x -> RELU -> y, then y -> RELU -> z.
const std::string kChain = R"(
  tensors { name: "x" shape: [2, 8] dtype: FP16 tensor_class: ACTIVATION }
  tensors { name: "y" shape: [2, 8] dtype: FP16 tensor_class: ACTIVATION }
  tensors { name: "z" shape: [2, 8] dtype: FP16 tensor_class: ACTIVATION }
  nodes { name: "a" op: RELU_OP inputs: ["x"] outputs: ["y"] }
  nodes { name: "b" op: RELU_OP inputs: ["y"] outputs: ["z"] }
)";

TEST(GraphCheck, EveryBuiltGraphPasses) {
  for (const std::string phase : {"decode", "prefill"}) {
    DecodeShape s;
    s.batch = 2;
    s.tokens = phase == "decode" ? 1 : 8;
    s.kv_len = 16;
    for (const ModelSpec& layer : layer_presets()) {
      EXPECT_NO_THROW((void)build_decoder_layers(layer, s, 2)) << layer.name << " " << phase;
    }
    for (const auto& e :
         std::filesystem::directory_iterator(test::source_path("examples/models"))) {
      const ModelSpec m = load_hf_config(e.path().string());
      EXPECT_NO_THROW((void)build_model(m, s, 2)) << e.path() << " " << phase;
    }
  }
}

TEST(GraphCheck, AbsentSizesAreFilledInAndWrongOnesRefused) {
  Graph g = parse(kChain);
  check_graph(g, "g.pbtxt");
  EXPECT_EQ(g.tensors(0).size_bytes(), 32u);
  g.mutable_tensors(1)->set_size_bytes(31);
  EXPECT_EQ(error_of([&] { check_graph(g, "g.pbtxt"); }),
            "g.pbtxt: tensor 'y'.size_bytes: must be 32 ([2, 8] of FP16), not 31");
}

TEST(GraphCheck, BrokenGraphsNameTheFileAndTheTensorOrNode) {
  auto error = [](const std::string& text) {
    Graph g = parse(text);
    return error_of([&] { check_graph(g, "g.pbtxt"); });
  };
  auto edit = [](std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  EXPECT_EQ(error(""), "g.pbtxt: nodes: the graph has no nodes: nothing to compile");
  EXPECT_EQ(error(edit(kChain, "name: \"y\" shape: [2, 8]", "name: \"y\" shape: [2, 0]")),
            "g.pbtxt: tensor 'y'.shape[1]: must be >= 1, not 0");
  EXPECT_EQ(
      error(edit(kChain, "name: \"y\" shape: [2, 8] dtype: FP16", "name: \"y\" shape: [2, 8]")),
      "g.pbtxt: tensor 'y'.dtype: is missing (one of FP32, FP16, BF16, FP8, INT8, INT4)");
  EXPECT_EQ(
      error(edit(kChain,
                 "shape: [2, 8] dtype: FP16 tensor_class: ACTIVATION }\n  tensors { name: \"z\"",
                 "shape: [4294967296, 4294967296] dtype: FP16 tensor_class: ACTIVATION }\n  "
                 "tensors { name: \"z\"")),
      "g.pbtxt: tensor 'y'.shape: [4294967296, 4294967296] has more than 1099511627776 elements");
  // A cycle: a reads z, which b computes from a's output.
  EXPECT_EQ(error(edit(kChain, "inputs: [\"x\"]", "inputs: [\"z\"]")),
            "g.pbtxt: node 'a': reads 'z' before node 'b' computes it: nodes must be listed in "
            "execution order, and a graph with a cycle has none");
  EXPECT_EQ(error(edit(kChain, "inputs: [\"y\"]", "inputs: [\"z\"]")),
            "g.pbtxt: node 'b': reads 'z', its own output (a cycle)");
  EXPECT_EQ(error(edit(kChain, "outputs: [\"z\"]", "outputs: [\"y\"]")),
            "g.pbtxt: tensor 'y': is computed by node 'a' and again by node 'b'");
  EXPECT_EQ(error(edit(kChain, "inputs: [\"y\"]", "inputs: [\"w\"]")),
            "g.pbtxt: node 'b'.inputs[0]: tensor 'w' is not defined");
  EXPECT_EQ(error(edit(kChain, "name: \"z\" shape: [2, 8]", "name: \"z\" shape: [2, 4]")),
            "g.pbtxt: node 'b': 'z' [2, 4] must have 16 elements (the input's size)");
}

TEST(GraphCheck, KvAppendUpdatesItsCacheInPlace) {
  const std::string text = R"(
    tensors { name: "k" shape: [1, 64] dtype: FP16 tensor_class: ACTIVATION }
    tensors { name: "cache" shape: [1, 2, 16, 32] dtype: FP16 tensor_class: KV_CACHE }
    nodes { name: "append" op: KV_APPEND inputs: ["k", "cache"] outputs: ["cache"]
            attrs { key: "position" value { i: 15 } } }
  )";
  Graph g = parse(text);
  EXPECT_NO_THROW(check_graph(g, "g.pbtxt"));
  // Past the cache, whether by a large or a negative position.
  for (const char* position : {"16", "-1", "9223372036854775807"}) {
    Graph bad = parse(text);
    (*bad.mutable_nodes(0)->mutable_attrs())["position"].set_i(std::stoll(position));
    EXPECT_NE(
        error_of([&] {
          check_graph(bad, "g.pbtxt");
        }).find("g.pbtxt: node 'append'.attrs.position: 1 new tokens at " + std::string(position)),
        std::string::npos)
        << position;
  }
}

TEST(CheckedArithmetic, OverflowIsReportedNotWrapped) {
  EXPECT_EQ(checked_mul(uint64_t{1} << 32, uint64_t{1} << 31), uint64_t{1} << 63);
  EXPECT_FALSE(checked_mul(uint64_t{1} << 32, uint64_t{1} << 32));
  EXPECT_FALSE(checked_add(~uint64_t{0}, 1));
  const std::vector<int64_t> wraps{int64_t{1} << 32, int64_t{1} << 32};
  EXPECT_FALSE(checked_product(wraps));
  EXPECT_FALSE(checked_product(std::vector<int64_t>{4, -1}));
  EXPECT_EQ(checked_product(std::vector<int64_t>{}), 1u);
}

TEST(ProgramBuilderBudget, RefusesAProgramPastTheBudget) {
  ProgramBuilder b("p", default_spm_layout(1 << 20, 1));
  b.set_node("big", "MATMUL");
  EXPECT_NO_THROW(b.reserve(ProgramBuilder::kMaxInstructions));
  EXPECT_EQ(error_of([&] { b.reserve(ProgramBuilder::kMaxInstructions + 1); }),
            fmt::format("compiler: node 'big' takes the program past {} instructions, the most "
                        "npusim builds and simulates; simulate fewer layers (--layers), a "
                        "smaller batch or a shorter prompt",
                        ProgramBuilder::kMaxInstructions));
  EXPECT_THROW(b.reserve(~uint64_t{0}), UserError);
}

TEST(ModelGraph, MoreLayersThanTheModelHasIsAnError) {
  const ModelSpec m = load_hf_config(test::source_path("examples/models/llama2-7b.json"));
  EXPECT_EQ(error_of([&] { (void)build_model(m, DecodeShape{}, 33); }),
            "--layers: 33: the model llama2-7b.json has 32 layers");
  EXPECT_NO_THROW((void)build_model(m, DecodeShape{}, 32));
}

}  // namespace
}  // namespace npusim::compiler

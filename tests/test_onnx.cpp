// ONNX import: a GPT-2 style block written with the ONNX protobuf API, as
// PyTorch exports it (attention as plain MatMuls, GELU as Erf arithmetic),
// compiles, runs, and does the same matrix work as the block built from
// its dimensions.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

#include "common/error.h"
#include "compiler/compile.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/frontends/onnx_import.h"
#include "compiler/graph_util.h"
#include "sim/functional_run.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

constexpr int64_t S = 64, H = 128, kHeads = 4, D = 32, I = 512;

class Block {
 public:
  explicit Block(std::vector<int64_t> x = {S, H}) {
    model_.set_ir_version(8);
    model_.add_opset_import()->set_version(17);
    g_ = model_.mutable_graph();
    g_->set_name("gpt2_block");
    input("x", std::move(x));
  }
  void input(const std::string& name, std::vector<int64_t> dims) {
    auto* in = g_->add_input();
    in->set_name(name);
    auto* t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void weight(const std::string& name, std::vector<int64_t> dims) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    t->mutable_float_data()->Resize(static_cast<int>(n), 0.0f);
  }
  void ints(const std::string& name, std::vector<int64_t> values) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
  }
  void scalar(const std::string& name, float v) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(v);
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> in,
                        const std::string& out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& i : in) n->add_input(i);
    n->add_output(out);
    return *n;
  }
  static void perm(onnx::NodeProto& n, std::vector<int64_t> p) {
    auto* a = n.add_attribute();
    a->set_name("perm");
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : p) a->add_ints(v);
  }
  std::string linear(const std::string& name, const std::string& x, int64_t in, int64_t out) {
    weight(name + ".w", {in, out});
    weight(name + ".b", {out});
    node("MatMul", {x, name + ".w"}, name + ".mm");
    node("Add", {name + ".mm", name + ".b"}, name);
    return name;
  }
  std::string layer_norm(const std::string& name, const std::string& x) {
    weight(name + ".g", {H});
    weight(name + ".b", {H});
    node("LayerNormalization", {x, name + ".g", name + ".b"}, name);
    return name;
  }
  std::string write() {
    auto* out = g_->add_output();
    out->set_name("y");
    // One file per test: ctest runs tests in parallel processes.
    const std::string path = ::testing::TempDir() + "/" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                             ".onnx";
    std::ofstream(path, std::ios::binary) << model_.SerializeAsString();
    return path;
  }
  onnx::GraphProto* g_;

 private:
  onnx::ModelProto model_;
};

std::string gpt2_block_onnx() {
  Block b;
  b.ints("heads_shape", {S, kHeads, D});
  b.ints("flat_shape", {S, H});
  b.scalar("scale", std::sqrt(static_cast<float>(D)));
  b.scalar("half", 0.5f);
  b.scalar("one", 1.0f);
  b.scalar("sqrt2", std::sqrt(2.0f));
  const auto ln1 = b.layer_norm("ln1", "x");
  for (const char* p : {"q", "k", "v"}) {
    b.linear(p, ln1, H, H);
    b.node("Reshape", {p, "heads_shape"}, std::string(p) + ".heads");
  }
  Block::perm(b.node("Transpose", {"q.heads"}, "qt"), {1, 0, 2});  // [h, S, d]
  Block::perm(b.node("Transpose", {"k.heads"}, "kt"), {1, 2, 0});  // [h, d, S]
  Block::perm(b.node("Transpose", {"v.heads"}, "vt"), {1, 0, 2});  // [h, S, d]
  b.node("MatMul", {"qt", "kt"}, "scores");
  b.node("Div", {"scores", "scale"}, "scaled");
  b.node("Softmax", {"scaled"}, "probs");
  b.node("MatMul", {"probs", "vt"}, "ctx.heads");
  Block::perm(b.node("Transpose", {"ctx.heads"}, "ctx.t"), {1, 0, 2});
  b.node("Reshape", {"ctx.t", "flat_shape"}, "ctx");
  b.linear("o", "ctx", H, H);
  b.node("Add", {"x", "o"}, "h");
  const auto ln2 = b.layer_norm("ln2", "h");
  b.linear("fc", ln2, H, I);
  b.node("Div", {"fc", "sqrt2"}, "fc.scaled");  // GELU, as exported: x/2 (1 + erf(x/sqrt 2))
  b.node("Erf", {"fc.scaled"}, "fc.erf");
  b.node("Add", {"fc.erf", "one"}, "fc.erf1");
  b.node("Mul", {"fc", "fc.erf1"}, "fc.mul");
  b.node("Mul", {"fc.mul", "half"}, "gelu");
  b.linear("proj", "gelu", I, H);
  b.node("Add", {"h", "proj"}, "y");
  return b.write();
}

Report run(const std::string& model_or_layer, bool onnx) {
  const System system = test::preset();
  sim::WorkloadOptions w;
  if (onnx) {
    w.model = model_or_layer;
  } else {
    w.layer = model_or_layer;
  }
  w.phase = "prefill";
  w.prompt_len = S;
  sim::Compiled c = sim::compile_workload(system, "preset", w);
  return test::run(system, c.program);
}

// The same GPT-2 style block built from its dimensions, prefilling S tokens.
Report block_from_dimensions() {
  compiler::ModelSpec m;
  m.name = "gpt2-block";
  m.hidden = H;
  m.heads = m.kv_heads = kHeads;
  m.head_dim = D;
  m.intermediate = I;
  m.norm = compiler::NormKind::Layer;
  m.mlp = compiler::MlpKind::Gelu;
  m.attention_bias = m.output_bias = m.mlp_bias = true;
  m.learned_positions = true;
  compiler::DecodeShape shape;
  shape.tokens = S;
  shape.kv_len = S;
  Graph g = compiler::build_decoder_layers(m, shape, 1);
  compiler::place(g, {});
  const System system = test::preset();
  const Program p = compiler::lower(g, sim::target_for(system, "preset"));
  return test::run(system, p);
}

TEST(Onnx, ATransformerBlockDoesTheWorkOfTheBlockBuiltFromDimensions) {
  const Report onnx = run(gpt2_block_onnx(), true);
  const Report dims = block_from_dimensions();
  EXPECT_EQ(onnx.compute().macs(), dims.compute().macs());
  const uint64_t projections = 4ull * S * H * H + 2ull * S * H * I;
  const uint64_t attention = 2ull * kHeads * S * S * D;
  EXPECT_EQ(onnx.compute().macs(), projections + attention);
  EXPECT_GT(onnx.cycles(), 0u);
  // Every weight of the block is read once.
  const uint64_t params = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 4 * H;
  EXPECT_EQ(onnx.traffic().read().weight(), params * 2);
}

// Ops of the graph imported from `b`, by name ("ELEMENTWISE:MUL" for
// elementwise ones), counted.
std::map<std::string, int> imported_ops(Block& b) {
  compiler::DecodeShape shape;
  const Graph g = compiler::import_onnx(b.write(), shape);
  std::map<std::string, int> ops;
  for (const Node& n : g.nodes()) {
    std::string name = OpType_Name(n.op());
    if (auto it = n.attrs().find("kind"); it != n.attrs().end()) name += ":" + it->second.s();
    ++ops[name];
  }
  return ops;
}

TEST(Onnx, ExportedGeluAndSiluArithmeticBecomesOneVectorOp) {
  {  // The block's erf GELU: one GELU_OP, no Erf arithmetic left.
    compiler::DecodeShape shape;
    const Graph g = compiler::import_onnx(gpt2_block_onnx(), shape);
    int gelu = 0, erf = 0;
    for (const Node& n : g.nodes()) {
      gelu += n.op() == GELU_OP;
      erf += n.attrs().count("kind") != 0 && n.attrs().at("kind").s() == "ERF";
    }
    EXPECT_EQ(gelu, 1);
    EXPECT_EQ(erf, 0);
  }
  {  // GPT-2's gelu_new, 0.5 * x first: x*0.5 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    Block b;
    b.scalar("three", 3.0f);
    b.scalar("c", 0.044715f);
    b.scalar("k", std::sqrt(2.0f / static_cast<float>(M_PI)));
    b.scalar("one", 1.0f);
    b.scalar("half", 0.5f);
    b.node("Mul", {"x", "half"}, "xh");
    b.node("Pow", {"x", "three"}, "x3");
    b.node("Mul", {"c", "x3"}, "cx3");
    b.node("Add", {"x", "cx3"}, "inner");
    b.node("Mul", {"inner", "k"}, "scaled");
    b.node("Tanh", {"scaled"}, "t");
    b.node("Add", {"one", "t"}, "t1");
    b.node("Mul", {"xh", "t1"}, "y");
    EXPECT_EQ(imported_ops(b), (std::map<std::string, int>{{"GELU_OP", 1}}));
  }
  {  // SiLU, as torch.nn.functional.silu exports it.
    Block b;
    b.node("Sigmoid", {"x"}, "s");
    b.node("Mul", {"s", "x"}, "y");
    EXPECT_EQ(imported_ops(b), (std::map<std::string, int>{{"SILU_OP", 1}}));
  }
}

TEST(Onnx, ArithmeticThatOnlyLooksLikeAnActivationStaysOpByOp) {
  {  // 0.6 is not GELU's 0.5.
    Block b;
    b.scalar("sqrt2", std::sqrt(2.0f));
    b.scalar("one", 1.0f);
    b.scalar("c", 0.6f);
    b.node("Div", {"x", "sqrt2"}, "a");
    b.node("Erf", {"a"}, "e");
    b.node("Add", {"e", "one"}, "e1");
    b.node("Mul", {"x", "e1"}, "m");
    b.node("Mul", {"m", "c"}, "y");
    const auto ops = imported_ops(b);
    EXPECT_EQ(ops.count("GELU_OP"), 0u);
    EXPECT_EQ(ops.at("ELEMENTWISE:ERF"), 1);
  }
  {  // The sigmoid is used again: x * sigmoid(x) must not swallow it.
    Block b;
    b.node("Sigmoid", {"x"}, "s");
    b.node("Mul", {"s", "x"}, "m");
    b.node("Add", {"m", "s"}, "y");
    const auto ops = imported_ops(b);
    EXPECT_EQ(ops.count("SILU_OP"), 0u);
    EXPECT_EQ(ops.at("ELEMENTWISE:SIGMOID"), 1);
  }
}

TEST(Onnx, ConstantNodesReadRawInt64DataAsPyTorchWritesIt) {
  // ReduceMean over axis 0, its axes from a Constant node in raw_data: the
  // axis must be seen (and refused), not read as empty and defaulted.
  Block b;
  onnx::NodeProto& c = b.node("Constant", {}, "axes");
  auto* a = c.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_dims(1);
  const int64_t axis = 0;
  a->mutable_t()->set_raw_data(std::string(reinterpret_cast<const char*>(&axis), 8));
  b.node("ReduceMean", {"x", "axes"}, "y");
  compiler::DecodeShape shape;
  try {
    (void)compiler::import_onnx(b.write(), shape);
    FAIL() << "axis 0 accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("axis 0"), std::string::npos) << e.what();
  }
}

TEST(Onnx, AnUnsupportedOpNamesTheNodeAndTheOp) {
  // Cos is evaluated at import on constants (RoPE tables), never at run time.
  Block b;
  b.node("Cos", {"x"}, "y");
  const std::string path = b.write();
  try {
    compiler::DecodeShape s;
    (void)compiler::import_onnx(path, s);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'y' (Cos): npusim evaluates this op only at import"),
              std::string::npos)
        << e.what();
  }
}

// A block whose input x (of `dims`, 0, 1, 2, ...) and output y are fp32,
// compiled and run in functional mode on `system`: x and y's result.
struct BlockRun {
  sim::Compiled compiled;
  std::vector<float> x;
  sim::TensorResult y;
};
BlockRun run_block(Block& b, const std::vector<int64_t>& dims, const System& system) {
  sim::WorkloadOptions w;
  w.model = b.write();
  w.phase = "prefill";
  w.prompt_len = 8;
  w.dtype = "fp32";
  BlockRun r;
  r.compiled = sim::compile_workload(system, "preset", w);
  uint64_t n = 1;
  for (int64_t d : dims) n *= static_cast<uint64_t>(d);
  r.x.resize(n);
  std::iota(r.x.begin(), r.x.end(), 0.0f);
  sim::FunctionalOptions options;
  options.inputs.push_back({"x", "", std::vector<uint64_t>(dims.begin(), dims.end()), r.x});
  sim::SimulationInput in;
  in.system = &system;
  const sim::FunctionalResult f = sim::run_functional(in, r.compiled, options);
  EXPECT_EQ(f.reference_error, "");
  for (const sim::TensorResult& t : f.outputs) {
    if (t.name == "y") r.y = t;
  }
  EXPECT_EQ(r.y.name, "y") << "y is not an output";
  return r;
}

// x [2, 3, 4, 5] + 0.5 transposed by `perm` in functional mode (fp32): the
// output is numpy's x.transpose(perm) + 0.5, as the reference interpreter
// computes it too. Returns the transposing COPYs of the graph (by name) and
// the program's transposing vector ops, and the longest of those.
struct Transposes {
  int nodes = 0, ops = 0;
  uint64_t longest = 0;
};
Transposes expect_transposed(const std::vector<int64_t>& perm,
                             const std::vector<int64_t>& dims = {2, 3, 4, 5},
                             const System& system = test::preset()) {
  Block b(dims);
  b.scalar("half", 0.5f);
  b.node("Add", {"x", "half"}, "x1");  // computed at run time
  Block::perm(b.node("Transpose", {"x1"}, "y"), perm);
  const BlockRun r = run_block(b, dims, system);
  const std::vector<float>& x = r.x;
  const sim::Compiled& c = r.compiled;
  // y[i0][i1][i2][i3] = x1[j] with j[perm[k]] = i[k].
  std::vector<uint64_t> y_shape;
  for (int64_t p : perm) y_shape.push_back(static_cast<uint64_t>(dims[static_cast<size_t>(p)]));
  std::vector<float> want(x.size());
  const std::vector<int64_t> stride = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3],
                                       1};  // of x
  int64_t o = 0;
  for (uint64_t i0 = 0; i0 < y_shape[0]; ++i0) {
    for (uint64_t i1 = 0; i1 < y_shape[1]; ++i1) {
      for (uint64_t i2 = 0; i2 < y_shape[2]; ++i2) {
        for (uint64_t i3 = 0; i3 < y_shape[3]; ++i3) {
          const int64_t j = static_cast<int64_t>(i0) * stride[static_cast<size_t>(perm[0])] +
                            static_cast<int64_t>(i1) * stride[static_cast<size_t>(perm[1])] +
                            static_cast<int64_t>(i2) * stride[static_cast<size_t>(perm[2])] +
                            static_cast<int64_t>(i3) * stride[static_cast<size_t>(perm[3])];
          want[static_cast<size_t>(o++)] = x[static_cast<size_t>(j)] + 0.5f;
        }
      }
    }
  }
  EXPECT_EQ(r.y.shape, y_shape);
  EXPECT_EQ(r.y.values, want);
  EXPECT_EQ(r.y.reference, want);
  Transposes t;
  for (const Node& n : c.graph.nodes()) t.nodes += n.attrs().count("transpose_rows") != 0;
  for (const auto& core : c.program.cores()) {
    for (const auto& ins : core.vector()) {
      if (ins.vector().transpose_rows() == 0) continue;
      ++t.ops;
      t.longest = std::max<uint64_t>(t.longest, ins.vector().length());
    }
  }
  return t;
}

// A Transpose of a computed tensor by any permutation: a swap of two
// adjacent groups of axes is one transposing COPY; any other permutation is
// a few of them, each into a tensor of its own (and each costs its time).
TEST(Onnx, ATransposeByAnyPermutationComputesNumpysTranspose) {
  const std::vector<std::pair<std::vector<int64_t>, int>> cases = {
      {{0, 2, 3, 1}, 1},  // [0] [1] [2 3] -> [0] [2 3] [1]
      {{2, 0, 1, 3}, 1},  // [0 1] [2] [3] -> [2] [0 1] [3]
      {{0, 1, 3, 2}, 1},  // K^T
      {{1, 0, 3, 2}, 2}, {{3, 2, 1, 0}, 3}, {{1, 3, 0, 2}, 2}, {{0, 3, 1, 2}, 1}, {{2, 3, 1, 0}, 2},
  };
  for (const auto& [perm, swaps] : cases) {
    SCOPED_TRACE(fmt::format("perm [{}]", fmt::join(perm, ", ")));
    const Transposes t = expect_transposed(perm);
    EXPECT_EQ(t.nodes, swaps);
    EXPECT_GE(t.ops, swaps);
  }
  // The identity is a view; no COPY.
  EXPECT_EQ(expect_transposed({0, 1, 2, 3}).nodes, 0);
}

// With a 64 KiB scratchpad the steps of x [4, 16, 32, 8] (fp32) reversed do
// not fit a vector slot: each goes rows at a time, and still transposes.
TEST(Onnx, ATransposeLargerThanAVectorSlotGoesRowsAtATimeStepByStep) {
  const System small = test::preset({"core.scratchpad.capacity_bytes=65536"});
  const Transposes t = expect_transposed({3, 2, 1, 0}, {4, 16, 32, 8}, small);
  EXPECT_EQ(t.nodes, 3);
  EXPECT_LT(t.longest, 4u * 16 * 32 * 8);  // the first step's one group goes in parts
}

TEST(Onnx, ATransposePermMustBeAPermutation) {
  Block b({2, 3, 4, 5});
  b.scalar("half", 0.5f);
  b.node("Add", {"x", "half"}, "x1");
  Block::perm(b.node("Transpose", {"x1"}, "y"), {0, 1, 1, 2});
  compiler::DecodeShape s;
  try {
    (void)compiler::import_onnx(b.write(), s);
    FAIL() << "perm [0, 1, 1, 2] accepted";
  } catch (const UserError& e) {
    EXPECT_NE(
        std::string(e.what()).find("node 'y' (Transpose): perm [0, 1, 1, 2] is not a permutation"),
        std::string::npos)
        << e.what();
  }
}

// A Slice with steps of a computed tensor (forwards, backwards, on an inner
// axis and on the last) gathers the picked rows: numpy's x[..., start::step].
TEST(Onnx, ASliceWithStepsComputesNumpysSlice) {
  const std::vector<int64_t> dims = {2, 3, 4, 5};
  struct Case {
    int64_t axis, start, end, step;
  };
  for (const Case& k :
       std::vector<Case>{{1, 0, 3, 2}, {2, 3, -5, -1}, {3, 1, 5, 3}, {2, -1, 0, -2}}) {
    SCOPED_TRACE(fmt::format("axis {} {}:{}:{}", k.axis, k.start, k.end, k.step));
    Block b(dims);
    b.scalar("half", 0.5f);
    b.node("Add", {"x", "half"}, "x1");
    b.ints("starts", {k.start});
    b.ints("ends", {k.end});
    b.ints("axes", {k.axis});
    b.ints("steps", {k.step});
    b.node("Slice", {"x1", "starts", "ends", "axes", "steps"}, "y");
    const BlockRun r = run_block(b, dims, test::preset());
    const std::vector<float>& x = r.x;
    // The picked indices of the axis, as numpy picks them.
    const int64_t len = dims[static_cast<size_t>(k.axis)];
    std::vector<int64_t> picked;
    int64_t i = k.start < 0 ? k.start + len : k.start;
    const int64_t end = k.end < 0 ? k.end + len : k.end;
    for (; k.step > 0 ? i < std::min(end, len) : i > end; i += k.step) picked.push_back(i);
    std::vector<float> want;
    std::vector<int64_t> at(4);
    for (at[0] = 0; at[0] < 2; ++at[0]) {
      for (at[1] = 0; at[1] < 3; ++at[1]) {
        for (at[2] = 0; at[2] < 4; ++at[2]) {
          for (at[3] = 0; at[3] < 5; ++at[3]) {
            std::vector<int64_t> from = at;
            const auto j = static_cast<size_t>(at[static_cast<size_t>(k.axis)]);
            if (j >= picked.size()) continue;
            from[static_cast<size_t>(k.axis)] = picked[j];
            want.push_back(
                x[static_cast<size_t>(((from[0] * 3 + from[1]) * 4 + from[2]) * 5 + from[3])] +
                0.5f);
          }
        }
      }
    }
    EXPECT_EQ(r.y.values, want);
    EXPECT_EQ(r.y.reference, want);
    ASSERT_EQ(r.y.shape.size(), 4u);
    EXPECT_EQ(r.y.shape[static_cast<size_t>(k.axis)], picked.size());
  }
}

// Gemm with transA (and transB): y = x1^T . w^T, the first operand
// transposed on chip first.
TEST(Onnx, AGemmWithTransposedOperandsComputesThem) {
  Block b({6, 4});
  b.scalar("half", 0.5f);
  b.node("Add", {"x", "half"}, "x1");
  b.weight("w", {3, 6});  // transB: [N, K]
  auto* w = b.g_->mutable_initializer(b.g_->initializer_size() - 1);
  for (int i = 0; i < w->float_data_size(); ++i)
    w->set_float_data(i, 0.25f * static_cast<float>(i % 7) - 0.5f);
  onnx::NodeProto& gemm = b.node("Gemm", {"x1", "w"}, "y");
  for (const char* t : {"transA", "transB"}) {
    auto* a = gemm.add_attribute();
    a->set_name(t);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
  }
  const BlockRun r = run_block(b, {6, 4}, test::preset());
  const std::vector<float>& x = r.x;
  std::vector<float> want(4 * 3, 0.0f);  // y[m, n] = sum_k x1[k, m] w[n, k]
  for (int m = 0; m < 4; ++m) {
    for (int n = 0; n < 3; ++n) {
      for (int k = 0; k < 6; ++k) {
        want[static_cast<size_t>(m * 3 + n)] +=
            (x[static_cast<size_t>(k * 4 + m)] + 0.5f) * w->float_data(n * 6 + k);
      }
    }
  }
  EXPECT_EQ(r.y.shape, (std::vector<uint64_t>{4, 3}));
  ASSERT_EQ(r.y.values.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(r.y.values[i], want[i], 1e-4f) << i;
    EXPECT_NEAR(r.y.reference[i], want[i], 1e-4f) << i;
  }
}

TEST(Onnx, ATruncatedFileIsAnError) {
  const std::string full = gpt2_block_onnx();
  std::ifstream in(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = ::testing::TempDir() + "/cut.onnx";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  compiler::DecodeShape s;
  EXPECT_THROW((void)compiler::import_onnx(cut, s), UserError);
}

}  // namespace
}  // namespace npusim

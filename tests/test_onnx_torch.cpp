// The PyTorch exports in tests/onnx/torch (scripts/export_onnx.py: GPT-2,
// OPT, Llama prefill and decode, Qwen2 and BERT, opsets 13 to 17, with and
// without the exporter's constant folding) import, and the imported graph
// does the manifest's matrix work with the manifest's parameters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "compiler/frontends/onnx_import.h"
#include "compiler/graph_util.h"
#include "sim/functional_run.h"
#include "sim/npy.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

const std::string kDir = "tests/onnx/torch/";

nlohmann::json manifest() {
  std::ifstream in(test::source_path(kDir + "manifest.json"));
  return nlohmann::json::parse(in)["files"];
}

std::string stem(const nlohmann::json& entry) {
  const std::string file = entry["file"];
  return file.substr(0, file.size() - 5);
}

// Every input of the export from its .npy (the importer fixes the integer
// ones: token ids, positions, masks).
compiler::OnnxInputs inputs_of(const nlohmann::json& entry) {
  compiler::OnnxInputs inputs;
  for (const auto& in : entry["inputs"]) {
    const std::string name = in["name"];
    const std::string file = test::source_path(kDir + stem(entry) + "." + name + ".npy");
    const sim::NpyArray a = sim::load_npy(file);
    inputs[name] = {a.shape, std::vector<double>(a.values.begin(), a.values.end()), file};
  }
  return inputs;
}

uint64_t parameters(const Graph& g) {
  uint64_t n = 0;
  for (const Tensor& t : g.tensors()) {
    if (t.is_parameter()) n += compiler::num_elements(t);
  }
  return n;
}

// The export of `entry` at `dtype`, with its given inputs.
sim::WorkloadOptions workload_of(const nlohmann::json& entry, const std::string& dtype) {
  sim::WorkloadOptions w;
  w.model = test::source_path(kDir + entry["file"].get<std::string>());
  w.phase = "prefill";
  w.prompt_len = 8;
  w.dtype = dtype;
  w.onnx_inputs = inputs_of(entry);
  return w;
}

TEST(OnnxTorch, EveryExportImportsWithTheManifestsMacsAndParameters) {
  const nlohmann::json files = manifest();
  ASSERT_EQ(files.size(), 21u);
  const System system = test::preset();
  for (const auto& entry : files) {
    SCOPED_TRACE(entry["file"].get<std::string>());
    const sim::WorkloadOptions w = workload_of(entry, "fp16");
    sim::Compiled c;
    try {
      c = sim::compile_workload(system, "preset", w);
    } catch (const UserError& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    EXPECT_EQ(parameters(c.graph), entry["parameters"].get<uint64_t>());
    // Llama's rotary inv_freq @ positions ("other" MACs) is evaluated at
    // import: its positions are constants (prefill) or given (decode), and
    // the RoPE tables it makes become a ROTARY's attributes.
    const uint64_t macs = entry["macs"].get<uint64_t>() - entry["other_macs"].get<uint64_t>();
    EXPECT_EQ(macs, entry["linear_macs"].get<uint64_t>() + entry["attention_macs"].get<uint64_t>());
    EXPECT_EQ(test::run(system, c.program).compute().macs(), macs);
  }
}

// Runs `entry` in functional mode (fp32) on `system` and checks every
// output against PyTorch's and the reference interpreter's.
void expect_pytorchs_outputs(const System& system, const nlohmann::json& entry,
                             sim::Compiled* compiled = nullptr) {
  SCOPED_TRACE(entry["file"].get<std::string>());
  const sim::WorkloadOptions w = workload_of(entry, "fp32");
  sim::Compiled c;
  try {
    c = sim::compile_workload(system, "preset", w);
  } catch (const UserError& e) {
    ADD_FAILURE() << e.what();
    return;
  }
  sim::FunctionalOptions options;
  for (const auto& [name, given] : w.onnx_inputs) {
    options.inputs.push_back({name, given.file, given.shape,
                              std::vector<float>(given.values.begin(), given.values.end())});
  }
  sim::SimulationInput in;
  in.system = &system;
  in.program = &c.program;
  const sim::FunctionalResult f = sim::run_functional(in, c, options);
  EXPECT_EQ(f.reference_error, "");
  for (const auto& out : entry["outputs"]) {
    const std::string name = out["name"];
    const sim::NpyArray want =
        sim::load_npy(test::source_path(kDir + stem(entry) + "." + name + ".npy"));
    bool found = false;
    for (const sim::TensorResult& t : f.outputs) {
      if (t.name != name) continue;
      found = true;
      EXPECT_EQ(t.shape, want.shape) << name;
      const sim::Comparison torch = sim::compare(t.values, want.values, FP32);
      EXPECT_TRUE(torch.within()) << name << ": max abs " << torch.max_abs;
      const sim::Comparison reference = sim::compare(t.values, t.reference, FP32);
      EXPECT_TRUE(reference.within()) << name << " vs the reference: " << reference.max_abs;
    }
    EXPECT_TRUE(found) << name << " is not an output";
  }
  if (compiled != nullptr) *compiled = std::move(c);
}

// Functional mode (fp32) computes every export's outputs as PyTorch did,
// within fp32's tolerance: the weights are the file's, token ids and
// positions are fixed at import, the rest (BERT's attention mask, Llama's
// past keys and values) is run-time data.
TEST(OnnxTorch, EveryExportComputesPyTorchsOutputs) {
  const System system = test::preset();
  for (const auto& entry : manifest()) expect_pytorchs_outputs(system, entry);
}

// With a 64 KiB scratchpad a head transpose (8 tokens x 32 columns, fp32)
// does not fit one vector slot: it goes a few token rows at a time, each
// stored as strided runs, and still computes GPT-2's logits.
TEST(OnnxTorch, ATransposeLargerThanAVectorSlotGoesRowsAtATime) {
  const System system = test::preset({"core.scratchpad.capacity_bytes=65536"});
  sim::Compiled c;
  expect_pytorchs_outputs(system, manifest()[0], &c);
  int partial = 0;
  for (const auto& core : c.program.cores()) {
    for (const auto& ins : core.vector()) {
      partial += ins.vector().transpose_rows() != 0 && ins.vector().transpose_rows() < 8;
    }
  }
  EXPECT_GT(partial, 0);
}

TEST(OnnxTorch, DecodePositionsMustBeGivenAtImport) {
  // position_ids feed the RoPE tables' arithmetic (Cos, Sin): without
  // their values the rotary MatMul is refused, naming the input to give.
  compiler::DecodeShape shape;
  const std::string e = test::error_of([&] {
    (void)compiler::import_onnx(test::source_path(kDir + "llama_decode_op17.onnx"), shape);
  });
  EXPECT_NE(e.find("node '/rotary_emb/MatMul' (MatMul)"), std::string::npos) << e;
  EXPECT_NE(e.find("--input position_ids=FILE.npy"), std::string::npos) << e;
}

}  // namespace
}  // namespace npusim

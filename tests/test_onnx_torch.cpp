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

TEST(OnnxTorch, EveryExportImportsWithTheManifestsMacsAndParameters) {
  const nlohmann::json files = manifest();
  ASSERT_EQ(files.size(), 21u);
  const System system = test::preset();
  for (const auto& entry : files) {
    SCOPED_TRACE(entry["file"].get<std::string>());
    sim::WorkloadOptions w;
    w.model = test::source_path(kDir + entry["file"].get<std::string>());
    w.phase = "prefill";
    w.prompt_len = 8;
    w.onnx_inputs = inputs_of(entry);
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

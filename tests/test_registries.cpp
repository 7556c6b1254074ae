// Components register themselves from their own files; these tests catch a
// file that is built but not registered (or not built at all).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "arch/dataflow.h"
#include "compiler/lowering/lowering.h"
#include "memory/registry.h"
#include "test_util.h"

namespace npusim {
namespace {

size_t count_files(const std::string& dir, const std::string& prefix) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(test::source_path(dir))) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".cpp") ++n;
  }
  return n;
}

TEST(Registries, EveryDataflowFileIsRegistered) {
  EXPECT_EQ(arch::DataflowRegistry::all().size(), count_files("arch", "dataflow_"));
  for (Dataflow d : {OUTPUT_STATIONARY, WEIGHT_STATIONARY, INPUT_STATIONARY}) {
    EXPECT_NE(arch::DataflowRegistry::find(d), nullptr) << Dataflow_Name(d);
  }
}

TEST(Registries, EveryMemoryModelInTheSchemaHasAFactory) {
  const auto* oneof = MemoryConfig::descriptor()->FindOneofByName("model");
  ASSERT_NE(oneof, nullptr);
  std::set<std::string> registered;
  for (const auto& n : memory::MemoryRegistry::names()) registered.insert(n);
  EXPECT_EQ(registered.size(), static_cast<size_t>(oneof->field_count()));
  for (int i = 0; i < oneof->field_count(); ++i) {
    EXPECT_TRUE(registered.count(oneof->field(i)->name())) << oneof->field(i)->name();
  }
}

TEST(Registries, EveryOpOfTheDecoderLayerHasALowering) {
  for (OpType op :
       {MATMUL, RMS_NORM, LAYER_NORM, ROTARY, SOFTMAX_OP, ADD_OP, MUL_OP, SILU_OP, GELU_OP,
        SWIGLU_OP, KV_APPEND, ATTENTION_SCORE, ATTENTION_CONTEXT, EMBEDDING, BIAS_ADD, RELU_OP}) {
    EXPECT_NE(compiler::LoweringRegistry::find(op), nullptr) << OpType_Name(op);
  }
}

}  // namespace
}  // namespace npusim

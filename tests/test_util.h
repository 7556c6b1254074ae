// Helpers shared by the tests.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>

#include "common/error.h"

#include "sim/config.h"
#include "sim/functional_run.h"
#include "sim/simulator.h"
#include "sim/system.pb.h"
#include "sim/workload.h"

namespace npusim::test {

inline std::string source_path(const std::string& relative) {
  return std::string(NPUSIM_SOURCE_DIR) + "/" + relative;
}

// The teaching preset, with overrides.
inline System preset(const std::vector<std::string>& sets = {}) {
  return sim::load_system(source_path("examples/hw/npu-128x128-ideal.textproto"), sets);
}

// The preset examples/hw/NAME.textproto, with overrides.
inline System hw(const std::string& name, const std::vector<std::string>& sets = {}) {
  return sim::load_system(source_path("examples/hw/" + name + ".textproto"), sets);
}

// The message of the UserError that `f` throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

// A fresh folder under the test's temporary folder, removed with its
// contents when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "npusim-test-XXXXXX";
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_NE(path_, "");
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A graph of one MATMUL, y[m, n] = x[m, k] x w[k, n] in fp16, written to a
// temporary file; returns its path.
inline std::string matmul_graph(const std::string& name, uint64_t m, uint64_t k, uint64_t n) {
  const std::string path = ::testing::TempDir() + name + ".textproto";
  std::ofstream(path) << fmt::format(
      "name: \"{0}\"\n"
      "tensors {{ name: \"x\" shape: [{1}, {2}] dtype: FP16 tensor_class: ACTIVATION }}\n"
      "tensors {{ name: \"w\" shape: [{2}, {3}] dtype: FP16 tensor_class: WEIGHT "
      "is_parameter: true }}\n"
      "tensors {{ name: \"y\" shape: [{1}, {3}] dtype: FP16 tensor_class: ACTIVATION }}\n"
      "nodes {{ name: \"{0}\" op: MATMUL inputs: [\"x\", \"w\"] outputs: [\"y\"] }}\n",
      name, m, k, n);
  return path;
}

// Compiles the workload for `system` and runs it in functional mode with
// data seeded by `seed`; returns every output by name (the reference agrees,
// or the test fails).
inline std::map<std::string, std::vector<float>> functional_outputs(
    const System& system, const sim::WorkloadOptions& workload, uint64_t seed) {
  const sim::Compiled c = sim::compile_workload(system, "system", workload);
  sim::SimulationInput in;
  in.system = &system;
  in.program = &c.program;
  sim::FunctionalOptions o;
  o.seed = seed;
  const sim::FunctionalResult f = sim::run_functional(in, c, o);
  EXPECT_EQ(f.reference_error, "");
  std::map<std::string, std::vector<float>> out;
  for (const auto& t : f.outputs) out[t.name] = t.values;
  return out;
}

inline Report run(const System& system, const Program& program) {
  sim::SimulationInput in;
  in.system = &system;
  in.program = &program;
  return sim::simulate(in);
}

// Compiles the workload for `system` and runs it.
inline Report run_workload(const System& system, const sim::WorkloadOptions& workload) {
  const sim::Compiled c = sim::compile_workload(system, "test", workload);
  return run(system, c.program);
}

// A program with one core and the given semaphores.
class ProgramMaker {
 public:
  ProgramMaker() { p_.add_cores(); }
  uint32_t sem(Queue producer, SemaphoreKind kind, uint32_t initial = 0) {
    auto* s = p_.add_semaphores();
    s->set_id(static_cast<uint32_t>(p_.semaphores_size() - 1));
    s->set_name("s" + std::to_string(s->id()));
    s->set_producer(producer);
    s->set_kind(kind);
    s->set_initial(initial);
    return s->id();
  }
  uint32_t tensor(TensorClass cls, uint64_t bytes) {
    auto* t = p_.add_tensors();
    t->set_name("t" + std::to_string(p_.tensors_size()));
    t->set_tensor_class(cls);
    t->set_bytes(bytes);
    return static_cast<uint32_t>(p_.tensors_size() - 1);
  }
  Instruction& load(uint32_t tensor, uint64_t bytes, uint64_t dram_addr = 0) {
    Instruction& i = *p_.mutable_cores(0)->add_dma();
    auto* d = i.mutable_dma();
    d->set_direction(DmaOp::LOAD);
    d->set_dram_addr(dram_addr);
    d->set_row_bytes(bytes);
    d->set_rows(1);
    d->set_tensor(tensor);
    d->set_tensor_class(p_.tensors(static_cast<int>(tensor)).tensor_class());
    return i;
  }
  Instruction& gemm(uint32_t m, uint32_t k, uint32_t n) {
    Instruction& i = *p_.mutable_cores(0)->add_matrix();
    auto* g = i.mutable_matrix();
    g->set_m(m);
    g->set_k(k);
    g->set_n(n);
    g->set_dtype(FP16);
    return i;
  }
  Instruction& vec(VectorKind kind, uint64_t length) {
    Instruction& i = *p_.mutable_cores(0)->add_vector();
    auto* v = i.mutable_vector();
    v->set_kind(kind);
    v->set_length(length);
    v->set_dtype(FP16);
    return i;
  }
  static void wait(Instruction& i, uint32_t sem) {
    auto* w = i.add_wait();
    w->set_sem(sem);
    w->set_count(1);
  }
  static void signal(Instruction& i, uint32_t sem) {
    auto* s = i.add_signal();
    s->set_sem(sem);
    s->set_count(1);
  }
  [[nodiscard]] const Program& program() const { return p_; }

 private:
  Program p_;
};

}  // namespace npusim::test

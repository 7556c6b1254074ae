// From command-line workload options to a placed graph and a program.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "arch/isa.pb.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/frontends/onnx_import.h"
#include "compiler/graph.pb.h"
#include "compiler/lowering/lowering.h"
#include "compiler/passes/tensor_parallel.h"
#include "sim/report.pb.h"
#include "sim/system.pb.h"

namespace npusim::sim {

struct WorkloadOptions {
  std::string model;                // a Hugging Face style config.json: the whole model
  std::string layer = "llama2-7b";  // else: decoder layers of these dimensions
  std::string phase = "decode";
  uint64_t batch = 1;
  uint64_t kv_len = 128;         // decode: positions attended to
  uint64_t prompt_len = 2048;    // prefill: tokens in the prompt
  uint64_t layers = 0;           // decoder layers (0: the model's, or 1 for --layer)
  uint64_t seed = 0;             // token ids and MoE routing
  std::string dtype = "fp16";    // weights (and activations, KV cache unless set)
  std::string activation_dtype;  // empty: fp16 for integer/fp8 weights, else as --dtype
  std::string kv_dtype;          // empty: as the activations
  // Fused (flash) attention: "auto" fuses prefill's (compiler/passes/
  // fuse_attention.h), "fused" every step's, "unfused" none.
  std::string attention = "auto";
  // MATMULs offloaded to a PIM memory (compiler/passes/pim_offload.h):
  // "auto" where the cost model says PIM is faster, "on" every eligible
  // one, "off" none.
  std::string pim = "auto";
  // Tensor and pipeline parallelism over the system's chips, and the
  // micro-batches (0: the system's topology.tensor_parallel, or all the
  // chips of a stage; topology.pipeline_parallel, or 1; and
  // topology.micro_batches, or 1).
  uint64_t tp = 0;
  uint64_t pp = 0;
  uint64_t micro_batches = 0;
  // Expert parallelism: 1 (experts split like the rest) or tp (each expert
  // whole on one core of the group); 0: topology.expert_parallel, or 1.
  uint64_t ep = 0;
  // An .onnx model's integer inputs given values (--input): fixed at import
  // (compiler/frontends/onnx_import.h); others are left to functional mode.
  compiler::OnnxInputs onnx_inputs;
};

struct Compiled {
  Graph graph;  // placed: what the first chip runs
  // With tensor or pipeline parallelism, or several cores per chip: the
  // whole model's graph (every micro-batch's copy, unplaced), how each
  // core's tensors are cut from its tensors, and each core's placed graph
  // and lowering decisions (stages[core], placed in its part of its chip's
  // memories). Core g runs stage g / tp as rank g % tp (cores chip by
  // chip); graph and tiled are core 0's.
  Graph full;
  compiler::TensorSharding sharding;
  struct Stage {
    Graph graph, tiled;
  };
  std::vector<Stage> stages;
  uint32_t tp = 1;
  uint32_t cores_per_chip = 1;
  // An .onnx model's weight values (functional mode computes with them),
  // and the inputs fixed at import (not graph tensors).
  std::map<std::string, std::vector<float>> weights;
  std::set<std::string> fixed_inputs;
  Graph tiled;  // placed, with the lowering's decisions on each node
  Program program;
  Workload workload;
};

// The compiler's view of the machine.
[[nodiscard]] compiler::Target target_for(const System& system, const std::string& where);

// Reads npusim's own graph (binary .pb or text); UserError on bad input.
[[nodiscard]] Graph load_graph(const std::string& path);

// The graph of the workload, unplaced. UserError on bad options.
[[nodiscard]] Graph build_graph(const WorkloadOptions& options);
// The same, with an .onnx model's weight values and fixed inputs in `c`.
[[nodiscard]] Graph build_graph(const WorkloadOptions& options, Compiled* c);

// Builds, places and lowers the workload for `system`.
[[nodiscard]] Compiled compile_workload(const System& system, const std::string& where,
                                        const WorkloadOptions& options);
// What compile_workload() checks before lowering: the options, the model,
// the parallelism and that every core's share fits its memories (UserError
// otherwise). A sweep checks every point so before the first runs.
void check_workload(const System& system, const std::string& where, const WorkloadOptions& options);

}  // namespace npusim::sim

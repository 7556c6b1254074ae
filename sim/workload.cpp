#include "sim/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/algorithm/string/case_conv.hpp>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "compiler/compile.h"
#include "compiler/frontends/hf_config.h"
#include "compiler/frontends/model_graph.h"
#include "compiler/frontends/onnx_import.h"
#include "compiler/graph_check.h"
#include "compiler/passes/fuse_attention.h"
#include "compiler/passes/pim_offload.h"
#include "compiler/passes/pipeline.h"
#include "memory/registry.h"
#include "sim/config.h"
#include "sim/memories.h"
#include "sim/simulator.h"

namespace npusim::sim {

compiler::Target target_for(const System& s, const std::string& where) {
  compiler::Target t;
  t.array = array_shape(s);
  t.arrays = s.core().array().count();
  t.dataflow = s.core().array().dataflow();
  t.vector_lanes = s.core().vector().lanes();
  t.spm_capacity_bytes = s.core().scratchpad().capacity_bytes();
  t.forward_activations = s.core().scratchpad().forward_activations();
  // What the DMA can move per cycle: the memory's peak, unless the
  // scratchpad's port (banks x width) takes less.
  const double spm_port = static_cast<double>(uint64_t{s.core().scratchpad().banks()} *
                                              s.core().scratchpad().bank_width_bytes());
  // Each memory as the DMA reaches it; the first is the one the fields
  // describe, and a node reading another's tensors sees that one's.
  for (const MemoryRef& m : memories(s)) {
    const MemoryConfig& c = *m.config;
    compiler::MemoryPath p;
    if (const auto pim = pim_spec_of(m, where)) p.pim = pim->cost();
    const double peak = reachable_peak_gbps(c) / s.core_clock_ghz();
    // Through the core's port, when it has one (as the simulator's DMA).
    p.bytes_per_cycle = std::min(core_peak_gbps(s, c) / s.core_clock_ghz(), spm_port);
    p.latency_cycles = core_read_latency_ns(s, c) * s.core_clock_ghz();
    p.peak_bytes_per_cycle = peak;
    if (!c.has_link()) {  // a link is one queue, whatever the memory's channels
      const auto interleave = memory::MemoryRegistry::lookup(c, where, m.path).interleave(c);
      p.channels = interleave.channels;
      p.granule_bytes = interleave.granule_bytes;
    }
    t.memories.push_back(p);
  }
  t.use_memory(0);
  t.dma_outstanding = s.core().dma().outstanding();
  t.dma_outstanding_bytes = s.core().dma().outstanding_bytes();
  t.kernel_by_kernel = s.core().execution().kernel_by_kernel();
  t.dma_max_request_bytes = s.core().dma().max_request_bytes();
  t.where = where;
  t.clock_ghz = s.core_clock_ghz();
  return t;
}

Graph load_graph(const std::string& path) {
  Graph g;
  load_message(path, &g);
  compiler::check_graph(g, path);  // placement assigns addresses afresh
  return g;
}

Graph build_graph(const WorkloadOptions& o) {
  return build_graph(o, nullptr);
}

Graph build_graph(const WorkloadOptions& o, Compiled* compiled) {
  require(o.phase == "decode" || o.phase == "prefill", "--phase", o.phase,
          "choices: decode, prefill");
  require(o.phase == "decode" || o.prompt_len >= 1, "--prompt-len", std::to_string(o.prompt_len),
          "must be >= 1");
  require(o.batch >= 1, "--batch", std::to_string(o.batch), "must be >= 1");
  require(o.kv_len >= 1, "--kv-len", std::to_string(o.kv_len), "must be >= 1");
  require(o.layers <= 100000, "--layers", std::to_string(o.layers), "must be at most 100000");
  auto dtype = [](const std::string& flag, const std::string& text) {
    DType dt = DTYPE_UNSPECIFIED;
    require(DType_Parse(boost::algorithm::to_upper_copy(text), &dt) && dt != DTYPE_UNSPECIFIED,
            flag, text, "one of fp32, fp16, bf16, fp8, int8, int4");
    return dt;
  };
  const DType dt = dtype("--dtype", o.dtype);
  compiler::DecodeShape shape;
  shape.batch = o.batch;
  shape.tokens = o.phase == "prefill" ? o.prompt_len : 1;
  shape.kv_len = o.phase == "prefill" ? o.prompt_len : o.kv_len;
  // --dtype sets the weights; activations and the KV cache follow it unless
  // it is an integer or fp8 format (then fp16), or their own flags say.
  shape.weight_dtype = dt;
  shape.activation_dtype = o.activation_dtype.empty()
                               ? (dt == INT4 || dt == INT8 || dt == FP8 ? FP16 : dt)
                               : dtype("--activation-dtype", o.activation_dtype);
  shape.kv_dtype = o.kv_dtype.empty() ? shape.activation_dtype : dtype("--kv-dtype", o.kv_dtype);
  shape.seed = o.seed;
  if (!o.model.empty()) {
    auto ends = [&](const std::string& suffix) { return has_suffix(o.model, suffix); };
    if (ends(".onnx")) {
      compiler::OnnxModel m = compiler::import_onnx_model(o.model, shape, o.onnx_inputs);
      if (compiled != nullptr) {
        compiled->weights = std::move(m.weights);
        compiled->fixed_inputs = std::move(m.fixed_inputs);
      }
      return std::move(m.graph);
    }
    if (ends(".pb") || ends(".binpb") || ends(".textproto") || ends(".pbtxt") || ends(".txtpb")) {
      return load_graph(o.model);  // npusim's own graph, already specialised
    }
    return compiler::build_model(compiler::load_hf_config(o.model), shape, o.layers);
  }
  const compiler::ModelSpec dims = compiler::parse_layer(o.layer, "--layer");
  return compiler::build_decoder_layers(dims, shape,
                                        static_cast<uint32_t>(o.layers == 0 ? 1 : o.layers));
}

namespace {

// A parallelism degree: the flag's, else the system's field's, else
// `fallback`; `flag` or `field` names it in errors.
uint32_t degree(uint64_t flag_value, bool has_field, uint32_t field_value, uint32_t fallback) {
  return flag_value != 0 ? static_cast<uint32_t>(flag_value) : has_field ? field_value : fallback;
}

}  // namespace

namespace {

// Builds and places the workload, and lowers it unless `lower` is false.
Compiled compile(const System& system, const std::string& where, const WorkloadOptions& options,
                 bool lower) {
  // The cores, chip by chip: a pipeline stage is whole chips, and a
  // tensor-parallel group all the cores of a stage's chips.
  const uint32_t chips = chip_count(system), per_chip = cores_per_chip(system);
  const uint32_t cores = chips * per_chip;
  const Topology& topo = system.topology();
  const uint32_t pp = degree(options.pp, topo.has_pipeline_parallel(), topo.pipeline_parallel(), 1);
  const uint32_t micro =
      degree(options.micro_batches, topo.has_micro_batches(), topo.micro_batches(), 1);
  const std::string pp_name = options.pp != 0 ? "--pp" : where + ": topology.pipeline_parallel";
  require(chips % pp == 0, pp_name, std::to_string(pp),
          fmt::format("must divide topology.chips ({}): each stage takes as many chips", chips));
  const uint32_t tp =
      degree(options.tp, topo.has_tensor_parallel(), topo.tensor_parallel(), cores / pp);
  const std::string tp_name = options.tp != 0 ? "--tp" : where + ": topology.tensor_parallel";
  const uint32_t ep_degree =
      degree(options.ep, topo.has_expert_parallel(), topo.expert_parallel(), 1);
  require(ep_degree == 1 || ep_degree == tp,
          options.ep != 0 ? "--ep" : where + ": topology.expert_parallel",
          std::to_string(ep_degree),
          fmt::format("experts spread over the tensor-parallel group: 1 (split like the rest) or "
                      "--tp ({})",
                      tp));
  const bool ep = ep_degree > 1;
  require(tp * pp == cores, tp_name, std::to_string(tp),
          fmt::format("times the pipeline's {} stage(s) must make the {} cores ({} chips of {})",
                      pp, cores, chips, per_chip));
  require(options.batch % micro == 0,
          options.micro_batches != 0 ? "--micro-batches" : where + ": topology.micro_batches",
          std::to_string(micro), fmt::format("must divide the batch ({})", options.batch));
  Compiled c;
  c.tp = tp;
  WorkloadOptions one = options;  // a micro-batch
  one.batch = options.batch / micro;
  c.graph = build_graph(one, &c);
  require(
      options.attention == "auto" || options.attention == "fused" || options.attention == "unfused",
      "--attention", options.attention, "choices: auto, fused, unfused");
  if (options.attention != "unfused") {
    compiler::FuseAttentionOptions fuse;
    fuse.prefill_only = options.attention == "auto";
    compiler::fuse_attention(c.graph, fuse);
  }
  uint32_t layers = 0;
  for (const auto& node : c.graph.nodes())
    layers += node.op() == ATTENTION_SCORE || node.op() == ATTENTION ? 1 : 0;
  if (micro > 1) c.graph = compiler::replicate_micro_batches(c.graph, micro);
  if (tp > 1 || pp > 1) c.full = c.graph;
  // Each rank's graph, cut into the stages: the same for every rank, but
  // with expert parallelism.
  std::vector<std::vector<Graph>> ranks(tp);  // [rank][stage]
  for (uint32_t r = 0; r < tp; ++r) {
    if (r > 0 && !ep) {
      ranks[r] = ranks[0];
      continue;
    }
    Graph g;
    if (tp > 1) {
      compiler::ShardedGraph shard = compiler::shard_tensor_parallel(
          c.graph, tp, tp_name, ep ? std::optional<uint32_t>(r) : std::nullopt);
      g = std::move(shard.graph);
      if (r == 0) c.sharding = std::move(shard.sharding);
    } else {
      g = c.graph;
    }
    if (pp > 1) {
      ranks[r] = compiler::split_stages(g, pp, pp_name);
    } else {
      ranks[r].push_back(std::move(g));
    }
  }
  compiler::Target target = target_for(system, where);
  for (auto& stages : ranks) {
    for (Graph& g : stages) {
      (void)compiler::offload_to_pim(g, target, compiler::parse_pim_mode(options.pim, "--pim"));
    }
  }
  // What crosses between stages goes in pieces of at most a 32nd of the
  // scratchpad, the same on every chip.
  for (const Graph& g : ranks[0]) {
    const compiler::TensorIndex tensors(g);
    for (const Node& n : g.nodes()) {
      if (n.op() != PIPE_SEND) continue;
      target.pipe_bytes =
          std::max(target.pipe_bytes, tensors.at(n.inputs(0), n.name()).size_bytes());
    }
  }
  target.pipe_bytes = (std::min(target.pipe_bytes, target.spm_capacity_bytes / 32) + 63) / 64 * 64;
  // Each core's graph placed in its part of its chip's memories, then
  // lowered for its place in its stage's ring and in the pipeline.
  compiler::PlacementOptions placement = placement_options(system, where);
  if (!options.model.empty()) placement.graph_where = options.model;
  placement.partitions = per_chip;
  if (cores > 1) {  // a memory that is too small is a chip's, for its share
    const std::string share =
        fmt::format(" (a chip's, for its part of the model: tp {} x pp {})", tp, pp);
    placement.capacity_field += share;
    for (compiler::PlacementMemory& m : placement.memories) m.capacity_field += share;
  }
  std::vector<Program> programs;
  c.stages.resize(cores);
  c.cores_per_chip = per_chip;
  for (uint32_t core = 0; core < cores; ++core) {
    const uint32_t s = core / tp, r = core % tp;
    Compiled::Stage& placed = c.stages[core];
    placed.graph = cores == 1 ? std::move(ranks[r][s]) : ranks[r][s];
    placement.partition = core % per_chip;
    compiler::place_in_memories(placed.graph, placement);
    if (!lower) continue;
    target.ring.clear();
    for (uint32_t k = 0; tp > 1 && k < tp; ++k) target.ring.push_back(s * tp + k);
    target.core = core;
    target.pipe_from = s > 0 ? int64_t{s - 1} * tp + r : -1;
    target.pipe_to = s + 1 < pp ? int64_t{s + 1} * tp + r : -1;
    programs.push_back(compiler::lower(placed.graph, target, &placed.tiled));
  }
  if (!lower) return c;
  c.program = programs.size() == 1 ? std::move(programs.front())
                                   : compiler::merge_core_programs(std::move(programs));
  if (c.stages.size() == 1) {
    c.graph = std::move(c.stages.front().graph);
    c.tiled = std::move(c.stages.front().tiled);
    c.stages.clear();
  } else {
    c.graph = c.stages.front().graph;
    c.tiled = c.stages.front().tiled;
  }
  c.workload.set_model(options.model.empty() ? options.layer : options.model);
  c.workload.set_phase(options.phase);
  c.workload.set_batch(static_cast<uint32_t>(options.batch));
  c.workload.set_kv_len(options.phase == "prefill" ? options.prompt_len : options.kv_len);
  c.workload.set_tokens(options.batch * (options.phase == "prefill" ? options.prompt_len : 1));
  c.workload.set_layers(layers);
  return c;
}

}  // namespace

Compiled compile_workload(const System& system, const std::string& where,
                          const WorkloadOptions& options) {
  return compile(system, where, options, true);
}

void check_workload(const System& system, const std::string& where,
                    const WorkloadOptions& options) {
  (void)compile(system, where, options, false);
}

}  // namespace npusim::sim

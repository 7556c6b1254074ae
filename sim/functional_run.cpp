#include "sim/functional_run.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "arch/functional.h"
#include "common/elements.h"
#include "common/error.h"
#include "compiler/graph_util.h"
#include "sim/functional_data.h"

namespace npusim::sim {

FunctionalResult run_functional(SimulationInput input, const Compiled& compiled,
                                const FunctionalOptions& options) {
  // The whole model's inputs: with tensor or pipeline parallelism, each
  // chip gets its stage's, in its part.
  const uint32_t ranks = compiled.sharding.ranks;
  const bool parallel = compiled.full.nodes_size() > 0;
  const Graph& graph = parallel ? compiled.full : compiled.graph;
  // Each core's placed graph and its lowering's decisions
  // (Compiled::stages): core g (chip g / K, K cores per chip) runs stage
  // g / tp as rank g % tp.
  std::vector<std::pair<const Graph*, const Graph*>> stages;
  for (const Compiled::Stage& s : compiled.stages) stages.emplace_back(&s.graph, &s.tiled);
  if (stages.empty()) stages.emplace_back(&compiled.graph, &compiled.tiled);
  const uint32_t per_chip = compiled.cores_per_chip, tp = compiled.tp;
  const auto cores = static_cast<uint32_t>(stages.size());
  const compiler::TensorIndex tensors(graph);
  compiler::TensorValues values = seeded_inputs(graph, options.seed);
  for (const auto& [name, w] : compiled.weights) {  // an .onnx model's own weights
    auto it = values.find(name);
    if (it == values.end() || it->second.size() != w.size()) continue;
    const DType dt = tensors.at(name, "weights").dtype();
    for (size_t i = 0; i < w.size(); ++i) it->second[i] = round_to(dt, w[i]);
  }
  for (const FunctionalOptions::Input& in : options.inputs) {
    if (compiled.fixed_inputs.count(in.name) != 0) continue;  // fixed at import
    auto it = values.find(in.name);
    if (it == values.end()) {
      throw UserError(fmt::format(
          "--input {}: the graph has no input tensor of that name (inputs are the tensors no node "
          "produces: parameters, the layer's input, KV caches)",
          in.name));
    }
    const Tensor& t = tensors.at(in.name, "--input");
    const std::vector<uint64_t> shape(t.shape().begin(), t.shape().end());
    if (in.shape != shape) {
      throw UserError(fmt::format("{}: --input {}: shape ({}) differs from the tensor's ({})",
                                  in.file, in.name, fmt::join(in.shape, ", "),
                                  fmt::join(shape, ", ")));
    }
    // Values the tensor's type holds, never silently changed but by rounding.
    const bool integer = t.dtype() == INT8 || t.dtype() == INT4;
    const float limit = t.dtype() == INT8   ? 127
                        : t.dtype() == INT4 ? 7
                        : t.dtype() == FP16 ? 65504
                                            : 3.38e38f;
    for (size_t i = 0; i < in.values.size(); ++i) {
      const float v = in.values[i];
      if ((integer && v != std::nearbyint(v)) || v > limit || v < -limit - (integer ? 1 : 0)) {
        throw UserError(fmt::format("{}: --input {}: element {} is {:g}, which {} cannot hold",
                                    in.file, in.name, i, v, DType_Name(t.dtype())));
      }
    }
    it->second.clear();
    for (float v : in.values) it->second.push_back(round_to(t.dtype(), v));
  }
  std::vector<arch::MemoryImage> images(cores / per_chip);  // one per chip
  for (uint32_t c = 0; c < cores; ++c) {
    const auto [placed, tiled] = stages[c];
    arch::MemoryImage& image = images[c / per_chip];
    if (!parallel) {
      write_inputs(image, *tiled, values);
      continue;
    }
    std::set<std::string> here;
    for (const Tensor& t : placed->tensors()) here.insert(t.name());
    compiler::TensorValues part;
    for (const auto& [name, v] : values) {
      if (here.count(name) == 0) continue;  // another stage's
      auto it = compiled.sharding.split_axis.find(name);
      part[name] =
          it == compiled.sharding.split_axis.end()
              ? v
              : compiler::shard_values(v, tensors.at(name, "inputs"), it->second, c % tp, ranks);
    }
    write_inputs(image, *tiled, part);
  }
  input.program = &compiled.program;
  input.memory_image = &images[0];
  for (size_t c = 1; c < images.size(); ++c) input.chip_images.push_back(&images[c]);
  FunctionalResult result;
  result.report = simulate(input);

  compiler::TensorValues reference;
  if (options.reference) {
    try {
      reference = compiler::interpret(graph, values);
    } catch (const UserError& e) {
      result.reference_error = e.what();
    }
  }
  // The outputs: what no node reads, and the state a next step reads (a KV
  // cache updated in place), once each.
  std::set<std::string> read, listed;
  // Where each tensor is computed: its stage's cores, and its place on each.
  std::map<std::string, uint32_t> stage_of;
  std::vector<compiler::TensorIndex> placed;
  for (uint32_t st = 0; st < stages.size(); ++st) {
    placed.emplace_back(*stages[st].first);
    for (const Node& n : stages[st].first->nodes()) {
      if (n.op() == PIPE_RECV) continue;
      for (const std::string& o : n.outputs()) stage_of.emplace(o, st / tp);
    }
  }
  const auto read_on = [&](uint32_t core, const std::string& name, const std::string& node) {
    return read_tensor(images[core / per_chip], placed[core].at(name, node));
  };
  for (const Node& n : graph.nodes()) read.insert(n.inputs().begin(), n.inputs().end());
  for (const Node& n : graph.nodes()) {
    for (const std::string& name : n.outputs()) {
      const bool state = n.op() == KV_APPEND;
      if ((read.count(name) != 0 && !state) || !listed.insert(name).second) continue;
      const Tensor& t = tensors.at(name, n.name());
      TensorResult r{name, {t.shape().begin(), t.shape().end()}, t.dtype(), {}, {}};
      const uint32_t first = (stage_of.count(name) != 0 ? stage_of.at(name) : 0) * tp;
      auto split = compiled.sharding.split_axis.find(name);
      if (split == compiled.sharding.split_axis.end()) {
        r.values = read_on(first, name, n.name());
      } else {  // each core's part
        std::vector<std::vector<float>> parts;
        for (uint32_t k = 0; k < tp; ++k) parts.push_back(read_on(first + k, name, n.name()));
        r.values = compiler::unshard_values(parts, t, split->second);
      }
      if (auto it = reference.find(name); it != reference.end()) r.reference = it->second;
      // Views of the output (an ONNX value laid over a node's rows) are
      // outputs too, under their own names and shapes.
      for (const Tensor& v : graph.tensors()) {
        if (v.alias_of() != name || read.count(v.name()) != 0) continue;
        result.outputs.push_back(
            {v.name(), {v.shape().begin(), v.shape().end()}, v.dtype(), r.values, r.reference});
      }
      result.outputs.push_back(std::move(r));
    }
  }
  return result;
}

Comparison compare(const std::vector<float>& actual, const std::vector<float>& expected,
                   DType dtype) {
  Comparison c;
  c.tolerance = dtype == FP32 ? 1e-4 : dtype == BF16 ? 5e-2 : 1e-2;
  double scale = 0;
  for (float e : expected) scale = std::max(scale, std::fabs(static_cast<double>(e)));
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    c.max_abs = std::max(c.max_abs, std::fabs(static_cast<double>(actual[i]) - expected[i]));
  }
  c.max_rel = scale > 0 ? c.max_abs / scale : c.max_abs;
  return c;
}

}  // namespace npusim::sim

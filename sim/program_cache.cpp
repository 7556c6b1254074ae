#include "sim/program_cache.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "memory/registry.h"
#include "sim/memories.h"
#include "sim/simulator.h"

namespace npusim::sim {
namespace {

// A message's bytes, the same for equal messages.
std::string bytes_of(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

// Appends `name`, the length of `value` and `value`: no two different
// sequences of fields give the same key.
void field(std::string& key, const char* name, const std::string& value) {
  key += fmt::format("{}:{}:", name, value.size());
  key += value;
}

template <typename T>
void field(std::string& key, const char* name, const T& value) {
  field(key, name, fmt::format("{}", value));
}

}  // namespace

std::string compile_key(const System& system, const std::string& where, const WorkloadOptions& o) {
  std::string key;
  // The workload, every option.
  field(key, "model", o.model);
  field(key, "layer", o.layer);
  field(key, "phase", o.phase);
  field(key, "batch", o.batch);
  field(key, "kv_len", o.kv_len);
  field(key, "prompt_len", o.prompt_len);
  field(key, "layers", o.layers);
  field(key, "seed", o.seed);
  field(key, "dtype", o.dtype);
  field(key, "activation_dtype", o.activation_dtype);
  field(key, "kv_dtype", o.kv_dtype);
  field(key, "attention", o.attention);
  field(key, "pim", o.pim);
  field(key, "tp", o.tp);
  field(key, "pp", o.pp);
  field(key, "micro_batches", o.micro_batches);
  field(key, "ep", o.ep);
  for (const auto& [name, input] : o.onnx_inputs) {
    field(key, "input", name);
    field(key, "shape", fmt::format("{}", fmt::join(input.shape, ",")));
    field(key, "values", fmt::format("{}", fmt::join(input.values, ",")));
    field(key, "file", input.file);
  }
  // The system: errors name `where`; the core is the compiler's target
  // whole (arrays, scratchpad, vector unit, DMA, execution).
  field(key, "where", where);
  field(key, "core", bytes_of(system.core()));
  field(key, "core_clock_ghz", system.core_clock_ghz());
  const Topology& t = system.topology();
  field(key, "chips", chip_count(system));
  field(key, "cores", cores_per_chip(system));
  field(key, "tensor_parallel", t.has_tensor_parallel() ? t.tensor_parallel() : 0);
  field(key, "pipeline_parallel", t.has_pipeline_parallel() ? t.pipeline_parallel() : 0);
  field(key, "micro_batches", t.has_micro_batches() ? t.micro_batches() : 0);
  field(key, "expert_parallel", t.has_expert_parallel() ? t.expert_parallel() : 0);
  field(key, "core_port", bytes_of(t.core_port()));  // the DMA's path to memory (target_for())
  field(key, "placement", bytes_of(system.placement()));
  // Each memory as target_for() and placement_options() see it.
  for (const MemoryRef& m : memories(system)) {
    const MemoryConfig& c = *m.config;
    const auto& entry = memory::MemoryRegistry::lookup(c, where, m.path);
    field(key, "memory", m.path);
    field(key, "name", c.name());
    field(key, "link", c.has_link());
    field(key, "capacity", entry.capacity_bytes(c));
    field(key, "peak_gbps", reachable_peak_gbps(c));
    field(key, "latency_ns", reachable_read_latency_ns(c));
    const auto interleave = entry.interleave(c);
    field(key, "channels", interleave.channels);
    field(key, "granule", interleave.granule_bytes);
    if (c.has_pim()) field(key, "pim", bytes_of(c.pim()));
  }
  return key;
}

std::shared_ptr<const Compiled> ProgramCache::get(const System& system, const std::string& where,
                                                  const WorkloadOptions& options) {
  std::string key = compile_key(system, where, options);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first != key) continue;
    entries_.splice(entries_.begin(), entries_, it);
    ++hits_;
    return entries_.front().second;
  }
  ++misses_;
  auto compiled = std::make_shared<const Compiled>(compile_workload(system, where, options));
  entries_.emplace_front(std::move(key), compiled);
  if (entries_.size() > capacity_) entries_.pop_back();
  return compiled;
}

}  // namespace npusim::sim

#include "sim/cli/options.h"

#include <fstream>
#include <sstream>

#include "common/error.h"
#include "sim/config.h"

namespace npusim::cli {

void add_system_options(Args& args, SystemOptions& o) {
  args.option("system", &o.system, "system description (.textproto), e.g. examples/hw/*.textproto");
  args.repeated("set", &o.sets,
                "override a system field: --set core.array.rows=256, --set "
                "memories[hbm].dram.stacks=4 (repeatable)");
  args.repeated("place", &o.places,
                "place tensors among the system's memories, before its own rules: "
                "CLASSES[@FIRST-LAST]=MEMORY[,MEMORY...], CLASSES weights, kv_cache, "
                "activations, experts or all joined by '+', e.g. kv_cache=hbm,socamm2 "
                "(repeatable)");
}

void add_workload_options(Args& args, sim::WorkloadOptions& o) {
  args.option("layer", &o.layer,
              "decoder layer: llama2-7b, llama2-13b, llama2-70b, llama3-8b, mistral-7b, tiny, or "
              "hidden=..,heads=..,kv_heads=..,intermediate=.. (default llama2-7b)");
  args.option("phase", &o.phase, "decode (default) or prefill");
  args.option("prompt-len", &o.prompt_len, "prefill: tokens in the prompt (default 2048)", 1,
              kMaxTokens);
  args.option("batch", &o.batch, "sequences decoded together (default 1)", 1, kMaxBatch);
  args.option("kv-len", &o.kv_len,
              "KV-cache positions attended to, new token included (default 128)", 1, kMaxTokens);
  args.option("model", &o.model,
              "a Hugging Face style config.json (examples/models/): the whole model; an ONNX "
              "model (.onnx) with static shapes; or an npusim graph (.pb, .textproto)");
  args.option("layers", &o.layers, "decoder layers (default: all of --model's, or 1 with --layer)",
              1, kMaxLayers);
  args.option("seed", &o.seed, "seed for token ids and MoE routing (default 0)", 0, UINT64_MAX);
  args.option("activation-dtype", &o.activation_dtype,
              "activation precision (default: fp16 for int8/int4/fp8 weights, else --dtype)");
  args.option("kv-dtype", &o.kv_dtype, "KV-cache precision (default: the activations')");
  args.option("attention", &o.attention,
              "auto (default: fused flash attention in prefill), fused (every step), or unfused "
              "(scores and probabilities through memory)");
  args.option("dtype", &o.dtype,
              "weight precision: fp32, fp16, bf16, fp8, int8, int4 (default fp16)");
  args.option("tp", &o.tp,
              "tensor parallelism: the cores each layer is split over (default: the system's "
              "topology.tensor_parallel, or all the cores of a pipeline stage's chips)",
              1, 4096);
  args.option("pp", &o.pp,
              "pipeline parallelism: the stages the model is cut into (the embedding, the "
              "layers and the LM head, in order, even in bytes), each of --tp cores (default: the "
              "system's topology.pipeline_parallel, or 1)",
              1, 4096);
  args.option("micro-batches", &o.micro_batches,
              "micro-batches the batch is cut into, flowing through the pipeline one after "
              "another (default: the system's topology.micro_batches, or 1)",
              1, 65536);
  args.option("ep", &o.ep,
              "expert parallelism: 1 (an MoE layer's experts split over the --tp cores like "
              "the rest) or --tp (each expert whole on one of them; default: the system's "
              "topology.expert_parallel, or 1)",
              1, 4096);
  args.option("pim", &o.pim,
              "GEMVs in a PIM memory: auto (default: where the cost model says PIM is faster), "
              "on (every eligible MATMUL; an error without a PIM memory), off");
}

void check_workload_options(const std::set<std::string>& given, const sim::WorkloadOptions& o) {
  auto has = [&](const char* flag) { return given.count(flag) > 0; };
  if (has("layer") && has("model")) {
    throw UserError("--layer: cannot be used with --model (the model gives the layers)");
  }
  const bool prefill = o.phase == "prefill";
  if (has("prompt-len") && !prefill) {
    throw UserError("--prompt-len: applies only with --phase prefill (decode reads --kv-len)");
  }
  if (has("kv-len") && prefill) {
    throw UserError("--kv-len: applies only with --phase decode (prefill attends to --prompt-len)");
  }
  const bool graph = sim::has_suffix(o.model, ".onnx") || sim::has_suffix(o.model, ".pb") ||
                     sim::has_suffix(o.model, ".binpb") || sim::has_suffix(o.model, ".textproto") ||
                     sim::has_suffix(o.model, ".pbtxt") || sim::has_suffix(o.model, ".txtpb");
  if (has("layers") && graph) {
    throw UserError("--layers: applies only to a config.json --model or --layer (" + o.model +
                    " is a whole graph)");
  }
}

System load_system(const SystemOptions& o) {
  if (o.system.empty()) throw UserError("--system: a system file is required");
  return sim::load_system(o.system, o.sets, o.places);
}

void load_program(const std::string& path, Program* program) {
  sim::load_message(path, program);
}

}  // namespace npusim::cli

#include "sim/cli/options.h"

#include <fstream>
#include <sstream>

#include "common/error.h"
#include "sim/config.h"

namespace npusim::cli {

void add_system_options(Args& args, SystemOptions& o) {
  args.option("system", &o.system, "system description (.textproto), e.g. examples/hw/*.textproto");
  args.repeated("set", &o.sets, "override a system field: --set core.array.rows=256 (repeatable)");
}

void add_workload_options(Args& args, sim::WorkloadOptions& o) {
  args.option("layer", &o.layer,
              "decoder layer: llama2-7b, llama2-13b, llama2-70b, llama3-8b, mistral-7b, tiny, or "
              "hidden=..,heads=..,kv_heads=..,intermediate=.. (default llama2-7b)");
  args.option("phase", &o.phase, "decode (default) or prefill");
  args.option("prompt-len", &o.prompt_len, "prefill: tokens in the prompt (default 2048)");
  args.option("batch", &o.batch, "sequences decoded together (default 1)");
  args.option("kv-len", &o.kv_len,
              "KV-cache positions attended to, new token included (default 128)");
  args.option("model", &o.model,
              "a Hugging Face style config.json (examples/models/): the whole model; an ONNX "
              "model (.onnx) with static shapes; or an npusim graph (.pb, .textproto)");
  args.option("layers", &o.layers, "decoder layers (default: all of --model's, or 1 with --layer)");
  args.option("seed", &o.seed, "seed for token ids and MoE routing (default 0)");
  args.option("activation-dtype", &o.activation_dtype,
              "activation precision (default: fp16 for int8/int4/fp8 weights, else --dtype)");
  args.option("kv-dtype", &o.kv_dtype, "KV-cache precision (default: the activations')");
  args.option("attention", &o.attention,
              "auto (default: fused flash attention in prefill), fused (every step), or unfused "
              "(scores and probabilities through memory)");
  args.option("dtype", &o.dtype,
              "weight precision: fp32, fp16, bf16, fp8, int8, int4 (default fp16)");
}

System load_system(const SystemOptions& o) {
  if (o.system.empty()) throw UserError("--system: a system file is required");
  return sim::load_system(o.system, o.sets);
}

void load_program(const std::string& path, Program* program) {
  sim::load_message(path, program);
}

}  // namespace npusim::cli

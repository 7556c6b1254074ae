#include "sim/config.h"

#include <fmt/format.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "arch/dataflow.h"
#include "common/error.h"
#include "common/file.h"
#include "memory/registry.h"

namespace npusim::sim {
namespace {

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string where) : where_(std::move(where)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) first_ = fmt::format("{}:{}:{}: {}", where_, line + 1, column + 1, message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  [[nodiscard]] const std::string& first() const { return first_; }

 private:
  std::string where_;
  std::string first_;
};

}  // namespace

void parse_textproto(const std::string& text, const std::string& where,
                     google::protobuf::Message* message) {
  Collector errors(where);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, message)) {
    throw UserError(errors.first().empty() ? where + ": malformed text proto" : errors.first());
  }
}

void load_textproto(const std::string& path, google::protobuf::Message* message) {
  parse_textproto(read_file(path), path, message);
}

bool has_suffix(const std::string& path, const std::string& suffix) {
  return path.size() > suffix.size() &&
         path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void load_message(const std::string& path, google::protobuf::Message* message) {
  if (!has_suffix(path, ".pb") && !has_suffix(path, ".binpb")) {
    load_textproto(path, message);
    return;
  }
  if (!message->ParseFromString(read_file(path))) {
    throw UserError(fmt::format("{}: not a valid binary {} (truncated or corrupt)", path,
                                message->GetTypeName()));
  }
}

void apply_override(const std::string& assignment, google::protobuf::Message* message) {
  const auto eq = assignment.find('=');
  const std::string where = fmt::format("--set {}", assignment);
  if (eq == std::string::npos || eq == 0) {
    throw UserError(where + ": expected field.path=value");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  // "a.b.c=v" becomes the text proto "a { b { c: v } }", merged into the
  // message, so typing and unknown-field errors are the parser's.
  std::string text;
  std::string closing;
  size_t start = 0;
  for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1) {
    text += path.substr(start, dot - start) + " { ";
    closing += " }";
  }
  text += path.substr(start) + ": " + value + closing;
  Collector errors(where);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.MergeFromString(text, message)) {
    throw UserError(errors.first().empty() ? where + ": invalid override" : errors.first());
  }
}

void apply_defaults(System& s) {
  if (!s.has_core_clock_ghz()) s.set_core_clock_ghz(1.0);
  auto* array = s.mutable_core()->mutable_array();
  if (!array->has_rows()) array->set_rows(128);
  if (!array->has_cols()) array->set_cols(128);
  if (!array->has_count()) array->set_count(1);
  if (array->dataflow() == DATAFLOW_UNSPECIFIED) array->set_dataflow(WEIGHT_STATIONARY);
  auto* spm = s.mutable_core()->mutable_scratchpad();
  if (!spm->has_capacity_bytes()) spm->set_capacity_bytes(16u << 20);
  if (!spm->has_banks()) spm->set_banks(32);
  if (!spm->has_bank_width_bytes()) spm->set_bank_width_bytes(64);
  if (!spm->has_forward_activations()) spm->set_forward_activations(true);
  auto* vec = s.mutable_core()->mutable_vector();
  if (!vec->has_lanes()) vec->set_lanes(128);
  auto* dma = s.mutable_core()->mutable_dma();
  if (!dma->has_outstanding()) dma->set_outstanding(64);
  if (!dma->has_max_request_bytes()) dma->set_max_request_bytes(2048);
  auto* e = s.mutable_core()->mutable_energy();
  if (!e->has_mac_fp32_pj()) e->set_mac_fp32_pj(1.69);
  if (!e->has_mac_16bit_pj()) e->set_mac_16bit_pj(0.59);
  if (!e->has_mac_fp8_pj()) e->set_mac_fp8_pj(0.30);
  if (!e->has_mac_int8_pj()) e->set_mac_int8_pj(0.10);
  if (!e->has_mac_int4_pj()) e->set_mac_int4_pj(0.05);
  if (!e->has_sram_pj_per_byte()) e->set_sram_pj_per_byte(1.25);
  if (!e->has_vector_pj_per_element()) e->set_vector_pj_per_element(0.59);
  if (!e->has_array_static_uw_per_pe()) e->set_array_static_uw_per_pe(30);
  if (!e->has_vector_static_mw_per_lane()) e->set_vector_static_mw_per_lane(1);
  if (!e->has_spm_static_mw_per_mib()) e->set_spm_static_mw_per_mib(15);
  if (!e->has_other_static_w()) e->set_other_static_w(0);
}

void validate(const System& s, const std::string& where) {
  require(std::isfinite(s.core_clock_ghz()) && s.core_clock_ghz() > 0, where, "core_clock_ghz",
          "must be > 0 (GHz)");
  const auto& e = s.core().energy();
  const std::pair<const char*, double> energies[] = {
      {"mac_fp32_pj", e.mac_fp32_pj()},
      {"mac_16bit_pj", e.mac_16bit_pj()},
      {"mac_fp8_pj", e.mac_fp8_pj()},
      {"mac_int8_pj", e.mac_int8_pj()},
      {"mac_int4_pj", e.mac_int4_pj()},
      {"sram_pj_per_byte", e.sram_pj_per_byte()},
      {"vector_pj_per_element", e.vector_pj_per_element()},
      {"array_static_uw_per_pe", e.array_static_uw_per_pe()},
      {"vector_static_mw_per_lane", e.vector_static_mw_per_lane()},
      {"spm_static_mw_per_mib", e.spm_static_mw_per_mib()},
      {"other_static_w", e.other_static_w()}};
  for (const auto& [field, value] : energies) {
    require(std::isfinite(value) && value >= 0, where, std::string("core.energy.") + field,
            "must be >= 0");
  }
  const auto& a = s.core().array();
  require(a.rows() >= 1, where, "core.array.rows", "must be >= 1");
  require(a.cols() >= 1, where, "core.array.cols", "must be >= 1");
  require(a.count() >= 1, where, "core.array.count", "must be >= 1");
  require(arch::DataflowRegistry::find(a.dataflow()) != nullptr, where, "core.array.dataflow",
          "not a registered dataflow");
  const auto& spm = s.core().scratchpad();
  require(spm.capacity_bytes() >= 1, where, "core.scratchpad.capacity_bytes", "must be >= 1");
  require(spm.banks() >= 1, where, "core.scratchpad.banks", "must be >= 1");
  require(spm.capacity_bytes() % spm.banks() == 0, where, "core.scratchpad.banks",
          fmt::format("must divide capacity_bytes ({})", spm.capacity_bytes()));
  require(spm.bank_width_bytes() >= 1, where, "core.scratchpad.bank_width_bytes", "must be >= 1");
  require(s.core().vector().lanes() >= 1, where, "core.vector.lanes", "must be >= 1");
  require(s.core().dma().outstanding() >= 1, where, "core.dma.outstanding", "must be >= 1");
  {
    const double gap = s.core().execution().launch_gap_ns();
    require(std::isfinite(gap) && gap >= 0 && gap <= 1e6, where, "core.execution.launch_gap_ns",
            "must be >= 0 and <= 1e6 (ns)");
    require(gap == 0 || s.core().execution().kernel_by_kernel(), where,
            "core.execution.launch_gap_ns", "applies only with kernel_by_kernel: true");
  }
  if (s.core().dma().has_requests_per_cycle()) {
    const double r = s.core().dma().requests_per_cycle();
    require(std::isfinite(r) && r > 0 && r <= 64, where, "core.dma.requests_per_cycle",
            "must be > 0 and <= 64 (requests per NPU cycle)");
  }
  require(s.core().dma().max_request_bytes() >= 1, where, "core.dma.max_request_bytes",
          "must be >= 1");
  require(s.has_memory(), where, "memory", "a memory model is required");
  memory::MemoryRegistry::lookup(s.memory(), where, "memory").validate(s.memory(), where, "memory");
}

System complete_system(System s, const std::string& where, const std::vector<std::string>& sets) {
  for (const auto& set : sets) apply_override(set, &s);
  apply_defaults(s);
  validate(s, where);
  return s;
}

System load_system(const std::string& path, const std::vector<std::string>& sets) {
  System s;
  load_textproto(path, &s);
  return complete_system(std::move(s), path, sets);
}

System dram_preset_system(const std::string& preset, const std::string& where,
                          const std::vector<std::string>& sets) {
  System s;
  parse_textproto(fmt::format("memory {{ dram {{ preset: \"{}\" }} }}", preset), where, &s);
  return complete_system(std::move(s), where, sets);
}

}  // namespace npusim::sim

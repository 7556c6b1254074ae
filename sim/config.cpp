#include "sim/config.h"

#include <fmt/format.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>

#include "arch/dataflow.h"
#include "common/error.h"
#include "common/file.h"
#include "common/ranges.h"
#include "memory/registry.h"
#include "sim/memories.h"

namespace npusim::sim {
namespace {

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string where) : where_(std::move(where)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    first_ = fmt::format("{}:{}:{}: ", where_, line + 1, column + 1);
    message_ = message;
    line_ = line;
    column_ = column;
  }
  // The first error, with the field path at its position when `text` (what
  // was parsed) shows one.
  [[nodiscard]] std::string first(const std::string& text) const;
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  [[nodiscard]] const std::string& first() const { return first_; }

 private:
  std::string where_;
  std::string first_, message_;
  int line_ = 0, column_ = 0;
};

// The field path at a position of a text proto ("core.array.rows"), for
// errors that the parser reports by line and column only.
std::string field_at(const std::string& text, int line, int column) {
  using google::protobuf::io::Tokenizer;
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  Collector quiet("");
  Tokenizer tokens(&input, &quiet);
  std::vector<std::string> open;
  std::string field, previous;
  bool after_colon = false;
  while (tokens.Next()) {
    const Tokenizer::Token& t = tokens.current();
    if (t.line > line || (t.line == line && t.column >= column)) {
      if (t.type == Tokenizer::TYPE_IDENTIFIER && !after_colon) field = t.text;
      break;
    }
    if (t.type == Tokenizer::TYPE_IDENTIFIER && !after_colon) {
      field = t.text;  // a field's name (after a colon it is a value)
    } else if (t.text == "{" || t.text == "<") {
      open.push_back(field);
      field.clear();
    } else if (t.text == "}" || t.text == ">") {
      if (!open.empty()) open.pop_back();
      field.clear();
    }
    after_colon = t.text == ":";
  }
  if (field.empty()) return "";
  open.push_back(field);
  std::string path;
  for (const auto& name : open) path += (path.empty() ? "" : ".") + name;
  return path;
}

std::string Collector::first(const std::string& text) const {
  std::string field = field_at(text, line_, column_);
  // Some errors are reported at the token after the value; their message
  // names the field ('... for field "kind"').
  const std::string named = "for field \"";
  if (const size_t at = message_.find(named); at != std::string::npos && !field.empty()) {
    const size_t from = at + named.size(), to = message_.find('"', from);
    const size_t dot = field.rfind('.');
    field =
        field.substr(0, dot == std::string::npos ? 0 : dot + 1) + message_.substr(from, to - from);
  }
  return first_ + (field.empty() ? "" : field + ": ") + message_;
}

}  // namespace

void parse_textproto(const std::string& text, const std::string& where,
                     google::protobuf::Message* message) {
  Collector errors(where);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, message)) {
    throw UserError(errors.first().empty() ? where + ": malformed text proto" : errors.first(text));
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

namespace {

// "'text'" or "\"text\"" without its quotes; anything else as it is.
std::string unquote(const std::string& v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

template <typename T>
bool parse_number(const std::string& text, T* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && !text.empty();
}

// The element of the repeated message field `f` of `m` that `key` names: an
// index, or the value of the elements' `name` field.
google::protobuf::Message* repeated_element(google::protobuf::Message* m,
                                            const google::protobuf::FieldDescriptor* f,
                                            const std::string& key, const std::string& where) {
  const auto* r = m->GetReflection();
  const int size = r->FieldSize(*m, f);
  uint32_t index = 0;
  if (parse_number(key, &index)) {
    if (index >= static_cast<uint32_t>(size)) {
      throw UserError(
          fmt::format("{}: index {} is past the {} element(s) the system has", where, index, size));
    }
    return r->MutableRepeatedMessage(m, f, static_cast<int>(index));
  }
  const auto* name_field = f->message_type()->FindFieldByName("name");
  std::vector<std::string> names;
  for (int i = 0; i < size && name_field != nullptr; ++i) {
    google::protobuf::Message* e = r->MutableRepeatedMessage(m, f, i);
    const std::string n = e->GetReflection()->GetString(*e, name_field);
    if (n == key) return e;
    names.push_back("'" + n + "'");
  }
  throw UserError(fmt::format("{}: no element named '{}' ({})", where, key,
                              names.empty()
                                  ? "its elements have no names"
                                  : "names: " + fmt::format("{}", fmt::join(names, ", "))));
}

}  // namespace

void apply_override(const std::string& assignment, google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const auto eq = assignment.find('=');
  const std::string where = fmt::format("--set {}", assignment);
  if (eq == std::string::npos || eq == 0) {
    throw UserError(where + ": expected field.path=value");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  // The path is walked through the schema and the value parsed as the
  // field's type: nothing is spliced into text, so a value cannot carry
  // further fields.
  google::protobuf::Message* m = message;
  const FieldDescriptor* f = nullptr;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    std::string name = path.substr(start, dot == std::string::npos ? dot : dot - start);
    const std::string walked = path.substr(0, dot);
    // "memories[1]" or "memories[hbm]": an element of a repeated message,
    // by index or by its `name` field.
    std::string key;
    bool keyed = false;
    if (const size_t open = name.find('['); open != std::string::npos) {
      if (name.back() != ']' || open + 2 > name.size() - 1) {
        throw UserError(fmt::format("{}: {}: expected FIELD[INDEX] or FIELD[NAME]", where, walked));
      }
      key = name.substr(open + 1, name.size() - open - 2);
      name.resize(open);
      keyed = true;
    }
    f = m->GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) {
      throw UserError(fmt::format("{}: {}: no field named \"{}\" in {}", where, walked, name,
                                  m->GetDescriptor()->full_name()));
    }
    if (f->is_repeated() != keyed || (keyed && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE)) {
      throw UserError(fmt::format(
          "{}: {}: {}", where, walked,
          keyed ? "only a repeated message field takes [INDEX] or [NAME]"
          : f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
              ? fmt::format("a repeated field: name one element, {}[INDEX] or {}[NAME]", name, name)
              : "a repeated field cannot be set with --set"));
    }
    if (dot == std::string::npos) break;
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      throw UserError(fmt::format("{}: {}: is a {}, not a message with fields", where, walked,
                                  f->cpp_type_name()));
    }
    if (keyed) {
      m = repeated_element(m, f, key, where + ": " + walked);
    } else {
      m = m->GetReflection()->MutableMessage(m, f);
    }
    start = dot + 1;
  }
  const auto* r = m->GetReflection();
  auto bad = [&](const std::string& constraint) {
    throw UserError(fmt::format("{}: {}: '{}' {}", where, path, value, constraint));
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      bad("cannot be assigned: it is a message; set one of its fields (" + path + ".FIELD=...)");
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, unquote(value));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      if (value == "true" || value == "1") {
        r->SetBool(m, f, true);
      } else if (value == "false" || value == "0") {
        r->SetBool(m, f, false);
      } else {
        bad("is not true or false");
      }
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = f->enum_type()->FindValueByName(unquote(value));
      int number = 0;
      if (e == nullptr && parse_number(value, &number))
        e = f->enum_type()->FindValueByNumber(number);
      if (e == nullptr) {
        std::vector<std::string> names;
        for (int i = 0; i < f->enum_type()->value_count(); ++i) {
          if (f->enum_type()->value(i)->number() != 0)
            names.push_back(f->enum_type()->value(i)->name());
        }
        bad(fmt::format("is not one of {}", fmt::join(names, ", ")));
      }
      r->SetEnum(m, f, e);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!parse_number(value, &v) || !std::isfinite(v)) bad("is not a finite number");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        r->SetDouble(m, f, v);
      } else {
        r->SetFloat(m, f, static_cast<float>(v));
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      const bool wide = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
      if (!parse_number(value, &v) || (!wide && v > UINT32_MAX)) {
        bad(fmt::format("is not an integer between 0 and {}", wide ? UINT64_MAX : UINT32_MAX));
      }
      if (wide) {
        r->SetUInt64(m, f, v);
      } else {
        r->SetUInt32(m, f, static_cast<uint32_t>(v));
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      const bool wide = f->cpp_type() == FieldDescriptor::CPPTYPE_INT64;
      if (!parse_number(value, &v) || (!wide && (v > INT32_MAX || v < INT32_MIN))) {
        bad(wide ? "is not a 64-bit integer" : "is not a 32-bit integer");
      }
      if (wide) {
        r->SetInt64(m, f, v);
      } else {
        r->SetInt32(m, f, static_cast<int32_t>(v));
      }
      break;
    }
  }
}

arch::ArrayShape array_shape(const System& s) {
  const ArrayConfig& a = s.core().array();
  arch::ArrayShape shape{a.rows(), a.cols(), a.double_buffered()};
  shape.preload_rows = a.preload_rows_per_cycle();
  return shape;
}

void apply_defaults(System& s) {
  if (!s.has_core_clock_ghz()) s.set_core_clock_ghz(1.0);
  auto* array = s.mutable_core()->mutable_array();
  if (!array->has_rows()) array->set_rows(128);
  if (!array->has_cols()) array->set_cols(128);
  if (!array->has_count()) array->set_count(1);
  if (!array->has_preload_rows_per_cycle()) array->set_preload_rows_per_cycle(1);
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
  // Names: "memory" for the one memory, "memory<i>" in a list; a link is
  // named after its memory.
  auto name = [](MemoryConfig* m, const std::string& fallback) {
    if (m->name().empty()) m->set_name(fallback);
    if (m->has_link() && m->link().name().empty())
      m->mutable_link()->set_name("link to " + m->name());
  };
  if (s.has_memory()) name(s.mutable_memory(), "memory");
  for (int i = 0; i < s.memories_size(); ++i)
    name(s.mutable_memories(i), fmt::format("memory{}", i));
}

namespace {

constexpr size_t kMaxMemories = 1024;

bool plain_name(const std::string& n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

void validate_memories(const System& s, const std::string& where) {
  require(s.has_memory() != (s.memories_size() > 0), where, "memory",
          s.has_memory() ? "give either memory or memories, not both"
                         : "a memory model is required (memory, or memories)");
  const std::vector<MemoryRef> all = memories(s);
  // Each memory owns 2^50 addresses (common/address_space.h): 2^14 fit.
  require(all.size() <= kMaxMemories, where, "memories",
          fmt::format("{} memories; at most {}", all.size(), kMaxMemories));
  std::set<std::string> names;
  for (const MemoryRef& m : all) {
    const MemoryConfig& c = *m.config;
    memory::MemoryRegistry::lookup(c, where, m.path).validate(c, where, m.path);
    require(plain_name(c.name()), where, m.path + ".name",
            "'" + c.name() + "': letters, digits, '_' and '-' only");
    require(names.insert(c.name()).second, where, m.path + ".name",
            "'" + c.name() + "' names another memory too");
    if (all.size() > 1) {
      require(memory::MemoryRegistry::lookup(c, where, m.path).capacity_bytes(c) != 0, where,
              m.path + ".capacity_bytes",
              "each memory of a system with several needs a capacity (placement spills by it)");
    }
    if (c.has_link()) {
      require(c.link().bandwidth_gbps() > 0, where, m.path + ".link.bandwidth_gbps",
              "required, > 0 (GB/s per direction)");
    }
  }
  for (int i = 0; i < s.placement().rules_size(); ++i) {
    const PlacementRule& r = s.placement().rules(i);
    const std::string path = fmt::format("placement.rules[{}]", i);
    require(r.memories_size() > 0, where, path + ".memories", "name at least one memory");
    for (const std::string& n : r.memories()) {
      require(names.count(n) != 0, where, path + ".memories",
              fmt::format("'{}' is not a memory of the system (memories: {})", n,
                          fmt::join(names, ", ")));
    }
    require(!r.has_first_layer() || !r.has_last_layer() || r.first_layer() <= r.last_layer(), where,
            path + ".last_layer",
            fmt::format("{} is before first_layer {}", r.last_layer(), r.first_layer()));
  }
}

}  // namespace

// Chips that the links can join: a chip link with a bandwidth, a torus whose
// sides multiply to the chips; a core port, if given, with a bandwidth.
void validate_topology(const System& s, const std::string& where) {
  if (!s.has_topology()) return;
  const Topology& t = s.topology();
  if (t.has_core_port()) {
    require(t.core_port().bandwidth_gbps() > 0, where, "topology.core_port.bandwidth_gbps",
            "must be > 0");
  }
  require(uint64_t{std::max(1u, t.chips())} * std::max(1u, t.cores()) <= 4096, where,
          "topology.cores",
          fmt::format("{} chips of {} cores: at most 4096 cores in all", t.chips(), t.cores()));
  if (t.on_chip_network() == MESH_2D) {
    const uint32_t cores = std::max(1u, t.cores());
    require(uint64_t{t.mesh_x()} * t.mesh_y() == cores, where, "topology.mesh_x",
            fmt::format("mesh_x x mesh_y = {} x {} must equal the {} cores of a chip", t.mesh_x(),
                        t.mesh_y(), cores));
    require(t.mesh_link().bandwidth_gbps() > 0, where, "topology.mesh_link.bandwidth_gbps",
            "a 2-D mesh needs links with a bandwidth > 0");
    for (int i = 0; i < t.memory_nodes_size(); ++i) {
      require(t.memory_nodes(i) < cores, where, fmt::format("topology.memory_nodes[{}]", i),
              fmt::format("{} is not a node of the {} x {} mesh (0 to {})", t.memory_nodes(i),
                          t.mesh_x(), t.mesh_y(), cores - 1));
    }
  }
  if (t.chips() <= 1) return;
  require(t.has_chip_link() && t.chip_link().bandwidth_gbps() > 0, where,
          "topology.chip_link.bandwidth_gbps",
          fmt::format("{} chips need a chip link with a bandwidth > 0", t.chips()));
  if (t.chip_topology() == TORUS_2D) {
    require(uint64_t{t.torus_x()} * t.torus_y() == t.chips(), where, "topology.torus_x",
            fmt::format("torus_x x torus_y = {} x {} must equal the {} chips", t.torus_x(),
                        t.torus_y(), t.chips()));
  }
}

void validate(const System& s, const std::string& where) {
  check_ranges(s, where);  // the ranges system.proto and memory.proto declare
  const auto& a = s.core().array();
  require(arch::DataflowRegistry::find(a.dataflow()) != nullptr, where, "core.array.dataflow",
          "not a registered dataflow");
  const auto& spm = s.core().scratchpad();
  require(spm.capacity_bytes() % spm.banks() == 0, where, "core.scratchpad.banks",
          fmt::format("must divide capacity_bytes ({})", spm.capacity_bytes()));
  const auto& dma = s.core().dma();
  require(!dma.has_outstanding_bytes() || dma.outstanding_bytes() >= dma.max_request_bytes(), where,
          "core.dma.outstanding_bytes",
          fmt::format("must be at least max_request_bytes ({}), or no request could issue",
                      dma.max_request_bytes()));
  require(s.core().execution().launch_gap_ns() == 0 || s.core().execution().kernel_by_kernel(),
          where, "core.execution.launch_gap_ns", "applies only with kernel_by_kernel: true");
  validate_memories(s, where);
  validate_topology(s, where);
}

System complete_system(System s, const std::string& where, const std::vector<std::string>& sets,
                       const std::vector<std::string>& places) {
  for (const auto& set : sets) apply_override(set, &s);
  if (!places.empty()) {
    Placement p;
    for (const auto& text : places) *p.add_rules() = parse_place_rule(text);
    for (const auto& r : s.placement().rules()) *p.add_rules() = r;
    *s.mutable_placement() = std::move(p);
  }
  apply_defaults(s);
  validate(s, where);
  return s;
}

System load_system(const std::string& path, const std::vector<std::string>& sets,
                   const std::vector<std::string>& places) {
  System s;
  load_textproto(path, &s);
  return complete_system(std::move(s), path, sets, places);
}

System dram_preset_system(const std::string& preset, const std::string& where,
                          const std::vector<std::string>& sets) {
  System s;
  s.mutable_memory()->mutable_dram()->set_preset(preset);
  return complete_system(std::move(s), where, sets);
}

}  // namespace npusim::sim

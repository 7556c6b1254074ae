#include "sim/report_io.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "sim/output_file.h"

namespace npusim::sim {

namespace {

using google::protobuf::FieldDescriptor;

nlohmann::ordered_json field_value(const google::protobuf::Message& m, const FieldDescriptor* f,
                                   int index);

// Every field, defaults included, named as in the .proto; 64-bit integers are
// JSON numbers (not strings, as the canonical proto3 mapping has them), so
// that pandas and jq read them as numbers.
nlohmann::ordered_json message_json(const google::protobuf::Message& m) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (int j = 0; j < r->FieldSize(m, f); ++j) list.push_back(field_value(m, f, j));
      out[f->name()] = std::move(list);
    } else if (f->containing_oneof() != nullptr && !r->HasField(m, f)) {
      continue;  // an unselected oneof member
    } else {
      out[f->name()] = field_value(m, f, -1);
    }
  }
  return out;
}

nlohmann::ordered_json field_value(const google::protobuf::Message& m, const FieldDescriptor* f,
                                   int index) {
  const auto* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return message_json(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return nullptr;
}

}  // namespace

std::string si(double v, const char* unit, int decimals) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (v >= 1000.0 && i < 5) {
    v /= 1000.0;
    ++i;
  }
  return fmt::format("{:.{}f} {}{}", v, decimals, prefixes[i], unit);
}

std::string to_json(const google::protobuf::Message& message) {
  return message_json(message).dump(2) + "\n";
}

void write_json(const google::protobuf::Message& message, const std::string& path,
                const std::string& option) {
  write_output(path, option, to_json(message));
}

namespace {
std::string duration(double seconds) {
  if (seconds < 1e-3) return fmt::format("{:.3f} us", seconds * 1e6);
  if (seconds < 1.0) return fmt::format("{:.3f} ms", seconds * 1e3);
  return fmt::format("{:.3f} s", seconds);
}
// Joules with a prefix that keeps three significant digits (uJ .. kJ).
std::string joules(double j) {
  if (j < 1e-3) return fmt::format("{:.3f} uJ", j * 1e6);
  if (j < 1.0) return fmt::format("{:.3f} mJ", j * 1e3);
  return si(j, "J");
}
double pct(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}
}  // namespace

double tokens_per_second(const Report& r) {
  return r.seconds() > 0 ? static_cast<double>(r.workload().tokens()) / r.seconds() : 0.0;
}

double bandwidth_share(const Report& r) {
  const auto& t = r.traffic();
  return t.peak_bandwidth_gbps() > 0 ? t.achieved_bandwidth_gbps() / t.peak_bandwidth_gbps() : 0.0;
}

// Rows of the chip and network tables beyond which they are cut.
constexpr size_t kMaxRows = 48;

std::optional<ChannelSpread> channel_spread(const DramStats& d) {
  if (d.channels_size() < 2 || d.cycles() == 0) return std::nullopt;
  const auto by_data = [](const DramChannelStats& a, const DramChannelStats& b) {
    return a.data_cycles() < b.data_cycles();
  };
  const auto [least, busiest] =
      std::minmax_element(d.channels().begin(), d.channels().end(), by_data);
  const double cycles = static_cast<double>(d.cycles());
  return ChannelSpread{static_cast<double>(busiest->data_cycles()) / cycles, busiest->channel(),
                       static_cast<double>(least->data_cycles()) / cycles};
}

std::string format_spread(const ChannelSpread& s) {
  return fmt::format("busiest {:.1f}% (channel {}), least {:.1f}%", 100.0 * s.busiest,
                     s.busiest_channel, 100.0 * s.least);
}

void print_table(const Report& r, std::ostream& out) {
  const auto& w = r.workload();
  const auto& t = r.traffic();
  fmt::print(out, "system    {}\n", r.system());
  if (w.phase().empty()) {  // a program given as is (run --program)
    fmt::print(out, "program   {}\n", w.model());
  } else {
    fmt::print(out, "workload  {} {} batch {} kv_len {} ({} layer{})\n", w.model(), w.phase(),
               w.batch(), w.kv_len(), w.layers(), w.layers() == 1 ? "" : "s");
  }
  fmt::print(out, "\n");
  fmt::print(out, "{:<28}{:>20}\n", "cycles", r.cycles());
  fmt::print(out, "{:<28}{:>20}\n", "time", duration(r.seconds()));
  if (r.workload().tokens() > 0) {
    fmt::print(out, "{:<28}{:>20.1f}\n", "tokens per second", tokens_per_second(r));
  }
  if (!r.limiter().resource().empty()) {
    fmt::print(
        out, "{:<28}{:>20}\n", "limited by",
        fmt::format("{} ({:.1f}%)", r.limiter().resource(), 100.0 * r.limiter().busy_share()));
  }
  if (r.chips_size() > 1) {
    uint64_t read = 0;
    for (const ChipStats& c : r.chips()) read += c.bytes_read();
    fmt::print(out, "{:<28}{:>20}\n", "chips", r.chips_size());
    fmt::print(out, "{:<28}{:>20}\n", "bytes read, all chips", si(static_cast<double>(read), "B"));
    fmt::print(out, "(from here to the chip table: chip 0's)\n");
  }
  fmt::print(out, "{:<28}{:>20}\n", "bytes read", si(static_cast<double>(t.read().total()), "B"));
  fmt::print(out, "{:<28}{:>20}\n", "  weights", si(static_cast<double>(t.read().weight()), "B"));
  fmt::print(out, "{:<28}{:>20}\n", "  kv cache",
             si(static_cast<double>(t.read().kv_cache()), "B"));
  fmt::print(out, "{:<28}{:>20}\n", "  activations",
             si(static_cast<double>(t.read().activation()), "B"));
  fmt::print(out, "{:<28}{:>20}\n", "  activation re-reads",
             si(static_cast<double>(t.read().activation() - t.unique_read().activation()), "B"));
  fmt::print(out, "{:<28}{:>20}\n", "bytes written",
             si(static_cast<double>(t.written().total()), "B"));
  fmt::print(out, "{:<28}{:>20}\n", "achieved bandwidth",
             si(t.achieved_bandwidth_gbps() * 1e9, "B/s"));
  fmt::print(out, "{:<28}{:>19.1f}%\n", "  of peak", 100.0 * bandwidth_share(r));
  fmt::print(out, "{:<28}{:>19.2f}%\n", "array utilisation",
             100.0 * r.compute().array_utilization());
  fmt::print(out, "{:<28}{:>19.2f}%\n", "array occupancy", 100.0 * r.compute().array_occupancy());
  fmt::print(out, "{:<28}{:>20}\n", "matrix tiles", r.compute().matrix_tiles());
  fmt::print(out, "{:<28}{:>20}\n", "vector ops", r.compute().vector_ops());
  if (r.resources_size() > 0) {
    fmt::print(out, "\n{:<22}{:>8}  {}\n", "resource", "busy", "capacity");
    for (const auto& res : r.resources()) {
      const std::string capacity = res.unit() == "B"
                                       ? si(res.capacity_per_s(), "B/s")
                                       : si(res.capacity_per_s(), "") + " " + res.unit() + "/s";
      fmt::print(out, "{:<22}{:>7.1f}%  {} ({})\n", res.name(), 100.0 * res.busy_share(), capacity,
                 res.capacity_note());
    }
  }
  fmt::print(out, "\n{:<8}{:>9}{:>9}{:>9}  {}\n", "unit", "busy", "stalled", "idle",
             "stalled on (share of the run)");
  for (const auto& u : r.units()) {
    std::string causes;
    for (const auto& c : u.stalls()) {
      if (pct(c.cycles(), r.cycles()) < 0.05) continue;
      causes += fmt::format("{}{} {:.1f}%", causes.empty() ? "" : ", ", c.cause(),
                            pct(c.cycles(), r.cycles()));
    }
    const uint64_t stalled =
        u.stall_memory_cycles() + u.stall_dependency_cycles() + u.stall_spm_space_cycles();
    fmt::print(out, "{:<8}{:>8.1f}%{:>8.1f}%{:>8.1f}%  {}\n", u.unit(),
               pct(u.busy_cycles(), r.cycles()), pct(stalled, r.cycles()),
               pct(u.idle_cycles(), r.cycles()), causes.empty() ? "-" : causes);
  }
  if (r.memory().has_dram()) {
    const auto& d = r.memory().dram();
    const auto& dt = d.total();
    fmt::print(out,
               "\ndram {}: {} channels, row hits {:.1f}%, data bus busy {:.1f}%, refresh "
               "{:.2f}%, read latency mean {:.1f} ns p99 {:.1f} ns\n",
               d.preset(), d.channels_size(), 100.0 * d.row_hit_rate(),
               100.0 * d.data_bus_utilization(), 100.0 * d.refresh_overhead(),
               dt.read_latency().mean_ns(), dt.read_latency().p99_ns());
    if (const auto spread = channel_spread(d)) {
      fmt::print(out, "dram channels: data bus {}\n", format_spread(*spread));
    }
    fmt::print(out, "dram commands: ACT {} PRE {} RD {} WR {} REF {}\n", dt.act(), dt.pre(),
               dt.rd(), dt.wr(), dt.ref());
  }
  if (r.memories_size() > 0) {
    fmt::print(out, "\n{:<12}{:<16}{:>12}{:>12}{:>12}{:>13}{:>13}{:>7}  {}\n", "memory", "model",
               "placed", "read", "written", "achieved", "peak", "busy", "link: busy to / from");
    for (const MemoryTierStats& m : r.memories()) {
      std::string link = "-";
      if (m.has_link()) {
        const LinkStats& l = m.link();
        link = fmt::format("{} ({}, {:g} ns): {:.1f}% / {:.1f}%", l.name(),
                           si(l.bandwidth_gbps() * 1e9, "B/s"), l.latency_ns(),
                           100.0 * l.busy_to_memory(), 100.0 * l.busy_from_memory());
      }
      fmt::print(out, "{:<12}{:<16}{:>12}{:>12}{:>12}{:>13}{:>13}{:>6.1f}%  {}\n", m.name(),
                 m.model(), si(static_cast<double>(m.placed_bytes()), "B"),
                 si(static_cast<double>(m.read_bytes()), "B"),
                 si(static_cast<double>(m.written_bytes()), "B"),
                 si(m.achieved_bandwidth_gbps() * 1e9, "B/s"),
                 si(m.peak_bandwidth_gbps() * 1e9, "B/s"), 100.0 * m.busy(), link);
    }
  }
  if (r.chips_size() > 0) {
    fmt::print(out, "\n{:<6}{:>14}{:>14}{:>8}{:>12}{:>12}{:>12}  {}\n", "chip", "computing, us",
               "finished, us", "idle", "read", "sent", "energy", "limited by");
    // Many chips: every k-th of them (and the last), so that the table
    // stays readable and still shows a pipeline from end to end.
    const int every =
        (r.chips_size() + static_cast<int>(kMaxRows) - 1) / static_cast<int>(kMaxRows);
    for (int i = 0; i < r.chips_size(); ++i) {
      if (i % every != 0 && i + 1 != r.chips_size()) continue;
      const ChipStats& c = r.chips(i);
      fmt::print(out, "{:<6}{:>14.3f}{:>14.3f}{:>7.1f}%{:>12}{:>12}{:>12}  {} ({:.1f}%)\n",
                 c.chip(), c.computing_from() * 1e6, c.seconds() * 1e6, 100.0 * c.idle_share(),
                 si(static_cast<double>(c.bytes_read()), "B"),
                 si(static_cast<double>(c.bytes_sent()), "B"), joules(c.joules()),
                 c.limiter().resource(), 100.0 * c.limiter().busy_share());
    }
    if (every > 1) {
      fmt::print(out, "(one chip in {} of {}, and the last; every chip in --report's chips)\n",
                 every, r.chips_size());
    }
    fmt::print(
        out,
        "chips idle before their first op and after their last: {:.1f}% (a pipeline's bubble)\n",
        100.0 * r.idle_share());
    fmt::print(out, "\n{:<32}{:>12}{:>10}{:>8}\n", "network hop", "bytes", "packets", "busy");
    // Many hops: the busiest, busiest first.
    std::vector<const NetworkHopStats*> hops;
    for (const NetworkHopStats& h : r.network()) hops.push_back(&h);
    if (hops.size() > kMaxRows) {
      std::stable_sort(hops.begin(), hops.end(),
                       [](const auto* a, const auto* b) { return a->busy() > b->busy(); });
    }
    for (size_t i = 0; i < hops.size() && i < kMaxRows; ++i) {
      const NetworkHopStats& h = *hops[i];
      fmt::print(out, "{:<32}{:>12}{:>10}{:>7.1f}%\n", h.name(),
                 si(static_cast<double>(h.bytes()), "B"), h.packets(), 100.0 * h.busy());
    }
    if (hops.size() > kMaxRows) {
      fmt::print(out, "(the {} busiest of {} hops; every hop in --report's network)\n", kMaxRows,
                 hops.size());
    }
  }
  if (r.has_energy()) {
    const Energy& e = r.energy();
    fmt::print(out, "\n{:<28}{:>20}\n", "energy", joules(e.joules()));
    if (e.tokens_per_joule() > 0) {
      fmt::print(out, "{:<28}{:>20}\n", "  per token", joules(e.joules_per_token()));
      fmt::print(out, "{:<28}{:>20.2f}\n", "  tokens per joule", e.tokens_per_joule());
    }
    fmt::print(out, "{:<28}{:>18.2f} W\n", "power, average", e.average_w());
    fmt::print(out, "{:<28}{:>18.2f} W\n", fmt::format("power, peak ({:g} us)", e.window_us()),
               e.peak_w());
    for (const auto& c : e.components()) {  // the JSON has every one
      if (c.joules() == 0) continue;
      fmt::print(out, "  {:<26}{:>20}{:>8.1f}%\n", c.name(), joules(c.joules()), 100.0 * c.share());
    }
  }
}

}  // namespace npusim::sim

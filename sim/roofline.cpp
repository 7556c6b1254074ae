#include "sim/roofline.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <numeric>

#include "common/error.h"
#include "sim/memories.h"
#include "sim/output_file.h"
#include "sim/report_io.h"

namespace npusim::sim {
namespace {

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

double ratio(double a, double b) {
  return b > 0 ? a / b : 0.0;
}

// The union of spans, as disjoint spans in order.
std::vector<Span> merged(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end());
  std::vector<Span> out;
  for (const Span& s : spans) {
    if (s.second <= s.first) continue;
    if (!out.empty() && s.first <= out.back().second) {
      out.back().second = std::max(out.back().second, s.second);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

double seconds_of(const std::vector<Span>& spans) {
  uint64_t ps = 0;
  for (const Span& s : spans) ps += s.second - s.first;
  return static_cast<double>(ps) * 1e-12;
}

struct Sum {
  double flops = 0, seconds = 0;
  uint64_t bytes = 0;
  std::vector<Span> spans;  // when its ops were active
};

void fill_breakdown(Breakdown* b, const Sum& sum, double total, const Limiters& limiters) {
  const std::vector<Span> active = merged(sum.spans);
  const double active_s = seconds_of(active);
  b->set_flops(sum.flops);
  b->set_bytes(sum.bytes);
  b->set_seconds(sum.seconds);
  b->set_share(ratio(sum.seconds, total));
  b->set_intensity(ratio(sum.flops, static_cast<double>(sum.bytes)));
  b->set_active_seconds(active_s);
  b->set_achieved_gflops(ratio(sum.flops, active_s) * 1e-9);
  b->set_achieved_gbps(ratio(static_cast<double>(sum.bytes), active_s) * 1e-9);
  const Limiter l = limiters.limiter(active);
  b->set_bound(l.resource());
  b->set_bound_share(l.busy_share());
}

}  // namespace

int decoder_layer(const std::string& node) {
  const std::string prefix = "layers.";
  if (node.rfind(prefix, 0) != 0) return -1;
  int n = -1;
  for (size_t i = prefix.size(); i < node.size() && node[i] >= '0' && node[i] <= '9'; ++i) {
    n = (n < 0 ? 0 : 10 * n) + (node[i] - '0');
  }
  return n;
}

std::string op_class(const std::string& node, const std::string& op) {
  if (op == "RMS_NORM" || op == "LAYER_NORM" || contains(node, "norm")) return "norm";
  if (op == "ATTENTION" || op == "ATTENTION_SCORE" || op == "ATTENTION_CONTEXT" ||
      op == "SOFTMAX_OP" || op == "ROTARY" || op == "KV_APPEND" || contains(node, "attn") ||
      contains(node, "q_proj") || contains(node, "k_proj") || contains(node, "v_proj") ||
      contains(node, "o_proj") || contains(node, "qkv") || contains(node, "rope") ||
      contains(node, "_append")) {
    return "attention";
  }
  if (op == "EMBEDDING" || contains(node, "embed")) return "embedding";
  if (contains(node, "lm_head") || contains(node, "logits")) return "lm_head";
  if (contains(node, "mlp") || contains(node, "gate") || contains(node, "up_proj") ||
      contains(node, "down_proj") || contains(node, "fc") || contains(node, "expert") ||
      contains(node, "router") || contains(node, "swiglu") || op == "SWIGLU_OP" ||
      op == "GELU_OP" || op == "SILU_OP") {
    return "mlp";
  }
  return "other";
}

void fill_roofline(const System& system, const Program& program,
                   const std::vector<arch::NodeProfile>& profile, double memory_roof_gbps,
                   const Limiters& limiters, Report* report) {
  const double total = report->seconds();
  // Ops in the order of their last completion; each gets the time since the
  // one before.
  std::vector<size_t> done;
  for (size_t i = 0; i < profile.size(); ++i) {
    if (profile[i].instructions > 0) done.push_back(i);
  }
  std::stable_sort(done.begin(), done.end(), [&](size_t a, size_t b) {
    return profile[a].last_completion_ps < profile[b].last_completion_ps;
  });
  std::vector<double> seconds(profile.size(), 0.0);
  uint64_t previous = 0;
  for (size_t i : done) {
    const uint64_t end = std::max(previous, profile[i].last_completion_ps);
    seconds[i] = static_cast<double>(end - previous) * 1e-12;
    previous = end;
  }

  const auto& a = system.core().array();
  Roofline* roof = report->mutable_roofline();
  roof->set_compute_roof_gflops(
      (2.0 * a.count() * a.rows() * a.cols() + system.core().vector().lanes()) *
      system.core_clock_ghz());
  roof->set_peak_memory_gbps(report->traffic().peak_bandwidth_gbps());
  roof->set_memory_roof_gbps(memory_roof_gbps > 0 ? memory_roof_gbps
                                                  : report->traffic().peak_bandwidth_gbps());
  roof->set_ridge_intensity(ratio(roof->compute_roof_gflops(), roof->memory_roof_gbps()));
  if (has_interconnect(system)) {
    for (const MemoryRef& m : memories(system)) {
      MemoryRoof* mr = roof->add_memories();
      mr->set_name(m.config->name());
      mr->set_peak_gbps(reachable_peak_gbps(*m.config));
    }
  }

  std::map<std::string, Sum> classes;
  std::map<int, Sum> layers;
  Sum all;
  // Ops in program order in the report (the graph's node order).
  std::vector<size_t> in_order = done;
  std::sort(in_order.begin(), in_order.end());
  for (size_t i : in_order) {
    const arch::NodeProfile& p = profile[i];
    OpStats* o = report->add_ops();
    o->set_node(program.nodes(static_cast<int>(i)));
    o->set_op(static_cast<int>(i) < program.node_ops_size() ? program.node_ops(static_cast<int>(i))
                                                            : "");
    o->set_op_class(op_class(o->node(), o->op()));
    o->set_layer(decoder_layer(o->node()));
    o->set_flops(2.0 * static_cast<double>(p.macs) + static_cast<double>(p.vector_elements));
    o->set_bytes_read(p.bytes_read);
    o->set_bytes_written(p.bytes_written);
    o->set_seconds(seconds[i]);
    const uint64_t bytes = p.bytes_read + p.bytes_written;
    const Span active{std::min(p.first_issue_ps, p.last_completion_ps), p.last_completion_ps};
    o->set_active_seconds(static_cast<double>(active.second - active.first) * 1e-12);
    o->set_intensity(ratio(o->flops(), static_cast<double>(bytes)));
    o->set_achieved_gflops(ratio(o->flops(), o->active_seconds()) * 1e-9);
    o->set_achieved_gbps(ratio(static_cast<double>(bytes), o->active_seconds()) * 1e-9);
    // What limited it among the resources its work used.
    const unsigned paths = (bytes > 0 ? path_bit(ResourcePath::Memory) : 0u) |
                           (p.macs > 0 ? path_bit(ResourcePath::Matrix) : 0u) |
                           (p.vector_elements > 0 ? path_bit(ResourcePath::Vector) : 0u);
    const Limiter l = limiters.limiter({active}, paths);
    o->set_bound(l.resource());
    o->set_bound_share(l.busy_share());
    for (Sum* s : {&classes[o->op_class()], &layers[o->layer()], &all}) {
      s->flops += o->flops();
      s->bytes += bytes;
      s->seconds += o->seconds();
      if (s != &all) s->spans.push_back(active);  // the run's rates are over its time
    }
  }
  for (const auto& [name, s] : classes) {
    fill_breakdown(report->add_classes(), s, total, limiters);
    report->mutable_classes()->rbegin()->set_name(name);
  }
  for (const auto& [layer, s] : layers) {
    if (layer < 0) continue;
    fill_breakdown(report->add_layers(), s, total, limiters);
    report->mutable_layers()->rbegin()->set_name(fmt::format("layer {}", layer));
  }
  roof->set_intensity(ratio(all.flops, static_cast<double>(all.bytes)));
  roof->set_bound(report->limiter().resource());
  roof->set_achieved_gflops(ratio(all.flops, total) * 1e-9);
  roof->set_achieved_gbps(ratio(static_cast<double>(all.bytes), total) * 1e-9);
}

void print_roofline(const Report& r, std::ostream& out, size_t top) {
  const Roofline& roof = r.roofline();
  fmt::print(
      out,
      "\nroofline: compute roof {}, memory roof {} ({} peak), ridge {:.1f} FLOP/B; "
      "the run: {:.2f} FLOP/B, {}, {}, limited by {} ({:.0f}%)\n",
      si(roof.compute_roof_gflops() * 1e9, "FLOP/s", 2),
      si(roof.memory_roof_gbps() * 1e9, "B/s", 2), si(roof.peak_memory_gbps() * 1e9, "B/s", 2),
      roof.ridge_intensity(), roof.intensity(), si(roof.achieved_gflops() * 1e9, "FLOP/s", 2),
      si(roof.achieved_gbps() * 1e9, "B/s", 2), roof.bound(), 100.0 * r.limiter().busy_share());
  auto table = [&](const char* title, const google::protobuf::RepeatedPtrField<Breakdown>& rows) {
    fmt::print(out, "\n{:<14}{:>9}{:>13}{:>13}{:>11}{:>16}{:>14}  {}\n", title, "time", "FLOPs",
               "bytes", "FLOP/B", "FLOP/s", "B/s", "limited by");
    for (const Breakdown& b : rows) {
      fmt::print(out, "{:<14}{:>8.1f}%{:>13}{:>13}{:>11.2f}{:>16}{:>14}  {} ({:.0f}%)\n", b.name(),
                 100.0 * b.share(), si(b.flops(), "", 2),
                 si(static_cast<double>(b.bytes()), "B", 2), b.intensity(),
                 si(b.achieved_gflops() * 1e9, "", 2), si(b.achieved_gbps() * 1e9, "", 2),
                 b.bound(), 100.0 * b.bound_share());
    }
  };
  table("class", r.classes());
  if (r.layers_size() > 0 && r.layers_size() <= 8) table("layer", r.layers());
  std::vector<const OpStats*> ops;
  for (const OpStats& o : r.ops()) ops.push_back(&o);
  std::stable_sort(ops.begin(), ops.end(),
                   [](const OpStats* a, const OpStats* b) { return a->seconds() > b->seconds(); });
  fmt::print(out, "\n{:<32}{:>10}{:>11}{:>16}{:>14}  {}\n", "op (most time first)", "time",
             "FLOP/B", "FLOP/s", "B/s", "limited by");
  for (size_t i = 0; i < std::min(top, ops.size()); ++i) {
    const OpStats& o = *ops[i];
    fmt::print(out, "{:<32}{:>9.1f}%{:>11.2f}{:>16}{:>14}  {} ({:.0f}%)\n", o.node(),
               100.0 * ratio(o.seconds(), r.seconds()), o.intensity(),
               si(o.achieved_gflops() * 1e9, "", 2), si(o.achieved_gbps() * 1e9, "", 2), o.bound(),
               100.0 * o.bound_share());
  }
}

void write_ops_csv(const Report& r, const std::string& path) {
  OutputFile file(path, "--roofline-csv");
  std::ostream& f = file.stream();
  f << "node,op,op_class,layer,flops,bytes_read,bytes_written,seconds,intensity,achieved_gflops,"
       "achieved_gbps,bound,bound_share,active_seconds\n";
  for (const OpStats& o : r.ops()) {
    f << fmt::format("{},{},{},{},{:.6g},{},{},{:.9g},{:.6g},{:.6g},{:.6g},{},{:.4f},{:.9g}\n",
                     o.node(), o.op(), o.op_class(), o.layer(), o.flops(), o.bytes_read(),
                     o.bytes_written(), o.seconds(), o.intensity(), o.achieved_gflops(),
                     o.achieved_gbps(), o.bound(), o.bound_share(), o.active_seconds());
  }
  file.commit();
}

}  // namespace npusim::sim

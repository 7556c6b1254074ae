#include "sim/trace_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <systemc>

#include "common/error.h"
#include "sim/roofline.h"

namespace npusim::sim {
namespace {

// Trace-event times are microseconds; ps as an exact decimal.
std::string us(uint64_t ps) {
  return fmt::format("{}.{:06}", ps / 1000000, ps % 1000000);
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

const char* activity_name(arch::Activity a) {
  switch (a) {
    case arch::Activity::Busy:
      return "busy";
    case arch::Activity::StallMemory:
      return "stall: memory";
    case arch::Activity::StallMatrix:
      return "stall: matrix";
    case arch::Activity::StallVector:
      return "stall: vector";
    case arch::Activity::StallDependency:
      return "stall: dependency";
    case arch::Activity::StallSpmSpace:
      return "stall: scratchpad space";
    case arch::Activity::StallKernel:
      return "stall: kernel boundary";
    default:
      return "idle";
  }
}

const char* queue_name(Queue q) {
  return q == DMA ? "dma" : q == MATRIX ? "matrix" : "vector";
}

std::string describe(const Instruction& ins) {
  if (ins.has_dma()) {
    const DmaOp& d = ins.dma();
    return fmt::format("{} {} B", d.direction() == DmaOp::LOAD ? "load" : "store",
                       d.rows() * d.row_bytes());
  }
  if (ins.has_matrix()) {
    const MatrixOp& m = ins.matrix();
    return fmt::format("tile {}x{}x{}", m.m(), m.k(), m.n());
  }
  if (ins.has_pim()) {
    const PimOp& p = ins.pim();
    return fmt::format("PIM GEMV {}x{} x{}", p.out_rows(), p.in_cols(), p.vectors());
  }
  return VectorKind_Name(ins.vector().kind());
}

}  // namespace

TraceWriter::TraceWriter(const TraceOptions& options, const Program& program)
    : options_(options), program_(program), file_(options.path, "--trace"), out_(file_.stream()) {
  for (const std::string& node : program.nodes()) node_layer_.push_back(decoder_layer(node));
  out_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
}

TraceWriter::~TraceWriter() = default;  // an unfinished trace is removed (OutputFile)

TraceWriter::Chip& TraceWriter::add_chip(uint32_t chips, uint32_t cores,
                                         std::vector<std::string> memory_lanes) {
  chips_.push_back(std::make_unique<Chip>(*this, static_cast<uint32_t>(chips_.size()), chips, cores,
                                          std::move(memory_lanes)));
  return *chips_.back();
}

void TraceWriter::name_core(int pid, const std::string& name) {
  event(fmt::format(R"({{"ph":"M","pid":{},"name":"process_name","args":{{"name":"{}"}}}})", pid,
                    name));
  for (Queue q : {DMA, MATRIX, VECTOR}) {
    event(
        fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"thread_name","args":{{"name":"{}"}}}})",
                    pid, static_cast<int>(q), queue_name(q)));
  }
}

// Chip c's processes: its cores', then its memories' (pids from 1).
TraceWriter::Chip::Chip(TraceWriter& writer, uint32_t chip, uint32_t chips, uint32_t cores,
                        std::vector<std::string> lanes)
    : w_(writer),
      core_pid_(static_cast<int>(chip * (cores + 1) + 1)),
      memory_pid_(core_pid_ + static_cast<int>(cores)),
      lanes_(std::move(lanes)) {
  const std::string prefix = chips > 1 ? fmt::format("chip{} ", chip) : "";
  for (uint32_t k = 0; k < cores; ++k) {
    w_.name_core(core_pid_ + static_cast<int>(k), fmt::format("{}core{}", prefix, k));
    if (k > 0) others_.push_back(std::make_unique<Units>(w_, core_pid_ + static_cast<int>(k)));
  }
  w_.event(
      fmt::format(R"({{"ph":"M","pid":{},"name":"process_name","args":{{"name":"{}memory"}}}})",
                  memory_pid_, prefix));
}

arch::TraceSink& TraceWriter::Chip::core(uint32_t k) {
  return k == 0 ? static_cast<arch::TraceSink&>(*this) : *others_.at(k - 1);
}

void TraceWriter::event(const std::string& json) {
  if (!first_) out_ << ",\n";
  first_ = false;
  out_ << json;
}

void TraceWriter::Chip::activity(Queue queue, const arch::Segment& span) {
  w_.unit_activity(core_pid_, queue, span);
}

void TraceWriter::unit_activity(int pid, Queue queue, const arch::Segment& span) {
  const uint64_t start = std::max(span.start_ps, options_.from_ps);
  const uint64_t end = std::min(span.end_ps, options_.to_ps);
  if (end <= start) return;
  event(fmt::format(R"({{"ph":"X","pid":{},"tid":{},"cat":"unit","name":"{}","ts":{},"dur":{}}})",
                    pid, static_cast<int>(queue), activity_name(span.activity), us(start),
                    us(end - start)));
}

bool TraceWriter::in_layers(const Instruction& instruction) const {
  if (options_.first_layer < 0) return true;
  const int layer = instruction.node() < node_layer_.size() ? node_layer_[instruction.node()] : -1;
  return layer >= options_.first_layer && layer <= options_.last_layer;
}

void TraceWriter::Chip::instruction(Queue queue, const Instruction& instruction, uint64_t start_ps,
                                    uint64_t end_ps) {
  w_.unit_instruction(core_pid_, queue, instruction, start_ps, end_ps);
}

void TraceWriter::unit_instruction(int pid, Queue queue, const Instruction& instruction,
                                   uint64_t start_ps, uint64_t end_ps) {
  if (end_ps <= options_.from_ps || start_ps >= options_.to_ps || !in_layers(instruction)) return;
  const std::string node = instruction.node() < static_cast<uint32_t>(program_.nodes_size())
                               ? program_.nodes(static_cast<int>(instruction.node()))
                               : std::string();
  const std::string name =
      quoted(node.empty() ? describe(instruction) : node + ": " + describe(instruction));
  const uint64_t id = next_id_++;
  const char* cat = queue == DMA      ? "dma instructions"
                    : queue == MATRIX ? "matrix instructions"
                                      : "vector instructions";
  event(fmt::format(R"({{"ph":"b","pid":{},"cat":"{}","id":{},"name":{},"ts":{}}})", pid, cat, id,
                    name, us(start_ps)));
  event(fmt::format(R"({{"ph":"e","pid":{},"cat":"{}","id":{},"name":{},"ts":{}}})", pid, cat, id,
                    name, us(end_ps)));
}

void TraceWriter::Chip::transferred(uint32_t lane, uint64_t end_ps, uint64_t bytes) {
  auto& window = windows_[end_ps / w_.options_.counter_window_ps];
  window.resize(lanes_.size(), 0);
  if (lane < window.size()) window[lane] += bytes;
  // Transfers end at or after the current time: earlier windows are final.
  flush_windows(sc_core::sc_time_stamp().value());
}

void TraceWriter::Chip::scratchpad(uint64_t time_ps, uint64_t bytes) {
  SpmWindow& win = spm_[time_ps / w_.options_.counter_window_ps];
  win.peak = std::max(win.peak, bytes);
  win.last = bytes;
  flush_windows(time_ps);
}

void TraceWriter::Chip::flush_windows(uint64_t before_ps) {
  const TraceOptions& o = w_.options_;
  const uint64_t w = o.counter_window_ps;
  const uint64_t complete = before_ps / w;  // windows [0, complete) are final
  for (; written_windows_ < complete; ++written_windows_) {
    const uint64_t start = written_windows_ * w;
    auto it = windows_.find(written_windows_);
    bool recorded = it != windows_.end();
    if (start + w > o.from_ps && start < o.to_ps) {
      std::string args;
      for (size_t lane = 0; lane < lanes_.size(); ++lane) {
        const uint64_t bytes = it != windows_.end() ? it->second[lane] : 0;
        // bytes per ps is TB/s: x 1000 for GB/s.
        args += fmt::format("{}{}:{:.3f}", lane == 0 ? "" : ",", quoted(lanes_[lane]),
                            static_cast<double>(bytes) * 1000.0 / static_cast<double>(w));
      }
      w_.event(fmt::format(R"({{"ph":"C","pid":{},"name":"bandwidth GB/s","ts":{},"args":{{{}}}}})",
                           memory_pid_, us(start), args));
    }
    if (it != windows_.end()) windows_.erase(it);
    // Scratchpad: the most in use in the window (what it started with, or
    // more).
    uint64_t in_use = spm_carry_;
    if (auto spm = spm_.find(written_windows_); spm != spm_.end()) {
      in_use = std::max(in_use, spm->second.peak);
      spm_carry_ = spm->second.last;
      spm_.erase(spm);
      recorded = true;
    }
    if (start + w > o.from_ps && start < o.to_ps) {
      w_.event(fmt::format(
          R"({{"ph":"C","pid":{},"name":"scratchpad MiB","ts":{},"args":{{"in use":{:.3f}}}}})",
          core_pid_, us(start), static_cast<double>(in_use) / (1 << 20)));
    }
    // A window with nothing recorded: every window up to the next with
    // anything recorded would repeat its figures, and a counter
    // keeps its value until its next event, so they are not written. The
    // trace then costs O(events), not O(simulated time / window).
    if (!recorded) {
      uint64_t next = complete;
      if (!windows_.empty()) next = std::min(next, windows_.begin()->first);
      if (!spm_.empty()) next = std::min(next, spm_.begin()->first);
      if (next > written_windows_ + 1) written_windows_ = next - 1;
    }
  }
}

void TraceWriter::Chip::power(uint64_t from_ps, uint64_t to_ps, double core_w, double memory_w) {
  if (to_ps <= w_.options_.from_ps || from_ps >= w_.options_.to_ps) return;
  w_.event(fmt::format(
      R"({{"ph":"C","pid":{},"name":"power W","ts":{},"args":{{"core":{:.3f},"memory":{:.3f}}}}})",
      core_pid_, us(from_ps), core_w, memory_w));
}

void TraceWriter::Chip::resources(const ResourceLedger& ledger, uint64_t end_ps) {
  const uint64_t window = ledger.window_ps();
  for (size_t w = 0; w < ledger.windows() && w * window < end_ps; ++w) {
    const uint64_t from = w * window;
    if (from + window <= w_.options_.from_ps || from >= w_.options_.to_ps) continue;
    std::string args;
    for (const auto& r : ledger.resources()) {
      args += fmt::format("{}{}:{:.2f}", args.empty() ? "" : ",", quoted(r.info.name),
                          100.0 * ledger.share_in(r, w));
    }
    w_.event(fmt::format(R"({{"ph":"C","pid":{},"name":"busy %","ts":{},"args":{{{}}}}})",
                         core_pid_, us(from), args));
  }
}

void TraceWriter::finish(uint64_t end_ps, const Machine& machine) {
  for (auto& chip : chips_) chip->flush_windows(end_ps + options_.counter_window_ps);
  out_ << fmt::format(
      "\n],\"otherData\":{{\"system\":{},\"peak_memory_gbps\":{:.6g},\"scratchpad_mib\":{:.6g}}}}}"
      "\n",
      quoted(machine.system), machine.peak_memory_gbps, machine.scratchpad_mib);
  file_.commit();
}

}  // namespace npusim::sim

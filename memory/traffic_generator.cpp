#include "memory/traffic_generator.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "common/error.h"
#include "common/file.h"

namespace npusim::memory {
namespace {

class Pattern : public TrafficSource {
 public:
  explicit Pattern(const PatternConfig& c)
      : c_(c), rng_(c.seed), slots_(c.footprint / c.bytes), pick_(0, slots_ - 1) {}
  bool next(TrafficRequest* out) override {
    if (issued_ == c_.requests) return false;
    uint64_t offset = 0;
    switch (c_.kind) {
      case PatternConfig::Sequential:  // slot after slot, wrapping around the footprint
        offset = next_slot_ * c_.bytes;
        if (++next_slot_ == slots_) next_slot_ = 0;
        break;
      case PatternConfig::Strided:
        offset = (issued_ * c_.stride) % (slots_ * c_.bytes) / c_.bytes * c_.bytes;
        break;
      case PatternConfig::Random:
        offset = pick_(rng_) * c_.bytes;
        break;
    }
    out->time_ps = 0;
    out->address = offset;
    out->bytes = c_.bytes;
    out->write = c_.read_fraction < 1.0 && unit_(rng_) >= c_.read_fraction;
    ++issued_;
    return true;
  }

 private:
  PatternConfig c_;
  std::mt19937_64 rng_;
  uint64_t slots_;  // request-sized slots in the footprint
  std::uniform_int_distribution<uint64_t> pick_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  uint64_t issued_ = 0;
  uint64_t next_slot_ = 0;
};

// Strict: every non-blank line (after '#' comments) is exactly four words,
// each checked; a bad one is an error naming the file, the line and the
// field, never skipped.
class Trace : public TrafficSource {
 public:
  // Latest time a request may carry: 1000 s of simulated time.
  static constexpr double kMaxTimeNs = 1e12;
  static constexpr uint64_t kMaxBytes = uint64_t{1} << 30;

  Trace(const std::string& path, uint64_t capacity)
      : contents_(read_file(path)), text_(contents_), capacity_(capacity), name_(path) {}

  bool next(TrafficRequest* out) override {
    std::string line;
    while (std::getline(text_, line)) {
      ++line_;
      if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::istringstream stream(line);
      std::vector<std::string> words;
      for (std::string w; stream >> w;) words.push_back(w);
      if (words.empty()) continue;  // blank or comment
      const std::string where = fmt::format("{}:{}", name_, line_);
      if (words.size() != 4) {
        throw UserError(fmt::format("{}: expected 'time_ns R|W address bytes', got {} words", where,
                                    words.size()));
      }
      double time_ns = 0;
      if (!number(words[0], &time_ns) || !std::isfinite(time_ns) || time_ns < 0 ||
          time_ns > kMaxTimeNs) {
        throw UserError(fmt::format("{}: time_ns: '{}' must be a number between 0 and 1e12 (ns)",
                                    where, words[0]));
      }
      if (time_ns < last_ns_) {
        throw UserError(fmt::format("{}: time_ns: {} is before the previous line's {}", where,
                                    words[0], last_ns_));
      }
      if (words[1] != "R" && words[1] != "W") {
        throw UserError(fmt::format("{}: direction: '{}' is not R or W", where, words[1]));
      }
      uint64_t address = 0, bytes = 0;
      const bool hex = words[2].rfind("0x", 0) == 0 || words[2].rfind("0X", 0) == 0;
      if (!integer(hex ? words[2].substr(2) : words[2], hex ? 16 : 10, &address)) {
        throw UserError(fmt::format(
            "{}: address: '{}' is not a non-negative integer (decimal or 0x hex) below 2^64", where,
            words[2]));
      }
      if (!integer(words[3], 10, &bytes) || bytes == 0 || bytes > kMaxBytes) {
        throw UserError(
            fmt::format("{}: bytes: '{}' must be an integer between 1 and 2^30", where, words[3]));
      }
      const uint64_t limit = capacity_ == 0 ? UINT64_MAX : capacity_;
      if (address > limit || bytes > limit - address) {
        throw UserError(fmt::format(
            "{}: address: {} bytes at 0x{:x} reach past the memory's {}", where, bytes, address,
            capacity_ == 0 ? std::string("address space")
                           : fmt::format("capacity ({} bytes)", capacity_)));
      }
      last_ns_ = time_ns;
      out->time_ps = static_cast<uint64_t>(std::llround(time_ns * 1e3));
      out->write = words[1] == "W";
      out->address = address;
      out->bytes = static_cast<uint32_t>(bytes);
      return true;
    }
    return false;
  }

 private:
  static bool number(const std::string& text, double* out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, *out);
    return ec == std::errc() && ptr == end;
  }
  static bool integer(const std::string& text, int base, uint64_t* out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, *out, base);
    return !text.empty() && ec == std::errc() && ptr == end;
  }

  std::string contents_;
  std::istringstream text_;
  uint64_t capacity_;
  std::string name_;
  uint64_t line_ = 0;
  double last_ns_ = 0;
};

}  // namespace

std::unique_ptr<TrafficSource> make_pattern(const PatternConfig& c) {
  return std::make_unique<Pattern>(c);
}

std::unique_ptr<TrafficSource> load_trace(const std::string& path, uint64_t capacity_bytes) {
  return std::make_unique<Trace>(path, capacity_bytes);
}

TrafficGenerator::TrafficGenerator(const sc_core::sc_module_name& name,
                                   std::unique_ptr<TrafficSource> source, uint32_t outstanding)
    : sc_core::sc_module(name), socket("socket"), source_(std::move(source)) {
  socket.register_nb_transport_bw(this, &TrafficGenerator::nb_transport_bw);
  slots_ = PayloadSlots<Slot>(outstanding);
  for (uint32_t i = 0; i < outstanding; ++i) {
    slots_[i].set_byte_enable_ptr(nullptr);
    free_.push_back(&slots_[i]);
  }
  SC_METHOD(issue);
  sensitive << wake_;
}

void TrafficGenerator::issue() {
  const uint64_t now = sc_core::sc_time_stamp().value();
  while (!free_.empty()) {
    if (!has_pending_) {
      bool more = false;
      try {
        more = !exhausted_ && source_->next(&pending_);
      } catch (...) {
        error_ = std::current_exception();
        sc_core::sc_stop();
      }
      if (!more) {
        exhausted_ = true;
        return;
      }
      has_pending_ = true;
    }
    if (pending_.time_ps > now) {
      wake_.notify(sc_core::sc_time::from_value(pending_.time_ps - now));
      return;
    }
    has_pending_ = false;
    Slot* slot = free_.back();
    free_.pop_back();
    if (data_.size() < pending_.bytes) data_.resize(pending_.bytes);
    tlm::tlm_generic_payload& p = *slot;
    p.set_data_ptr(data_.data());
    p.set_command(pending_.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    p.set_address(pending_.address);
    p.set_data_length(pending_.bytes);
    p.set_streaming_width(pending_.bytes);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    slot->issued_ps = now;
    first_issue_ps_ = std::min(first_issue_ps_, now);
    ++in_flight_;
    bytes_ += pending_.bytes;
    reads_ += pending_.write ? 0 : 1;
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    if (socket->nb_transport_fw(p, phase, delay) != tlm::TLM_ACCEPTED) {
      throw std::runtime_error("memtest: memory did not accept a request");
    }
  }
}

tlm::tlm_sync_enum TrafficGenerator::nb_transport_bw(tlm::tlm_generic_payload& trans,
                                                     tlm::tlm_phase&, sc_core::sc_time&) {
  if (trans.is_response_error() && !error_) {
    error_ = std::make_exception_ptr(UserError(
        fmt::format("memtest: the memory refused {} bytes at 0x{:x} ({}): beyond its capacity?",
                    trans.get_data_length(), trans.get_address(), trans.get_response_string())));
    sc_core::sc_stop();
  }
  Slot* slot = slots_.of(trans);
  if (slot == nullptr) throw std::logic_error("traffic generator: response for an unknown request");
  const uint64_t now = sc_core::sc_time_stamp().value();
  latencies_ns_.push_back(static_cast<double>(now - slot->issued_ps) * 1e-3);
  last_response_ps_ = std::max(last_response_ps_, now);
  --in_flight_;
  free_.push_back(slot);
  issue();
  return tlm::TLM_COMPLETED;
}

}  // namespace npusim::memory

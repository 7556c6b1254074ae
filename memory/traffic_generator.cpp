#include "memory/traffic_generator.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "common/error.h"

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

class Trace : public TrafficSource {
 public:
  explicit Trace(const std::string& path) : path_(path), in_(path) {
    if (!in_) throw UserError(path + ": cannot open trace file");
  }
  bool next(TrafficRequest* out) override {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_;
      if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::istringstream words(line);
      double time_ns = 0;
      std::string rw, address;
      uint64_t bytes = 0;
      if (!(words >> time_ns)) continue;  // blank or comment
      const std::string where = fmt::format("{}:{}", path_, line_);
      if (!(words >> rw >> address >> bytes) || (rw != "R" && rw != "W") || bytes == 0 ||
          bytes > UINT32_MAX || time_ns < 0) {
        throw UserError(where + ": expected 'time_ns R|W address bytes'");
      }
      try {
        size_t used = 0;
        out->address = std::stoull(address, &used, 0);
        if (used != address.size()) throw std::invalid_argument(address);
      } catch (const std::exception&) {
        throw UserError(where + ": address '" + address + "' is not a number");
      }
      out->time_ps = static_cast<uint64_t>(time_ns * 1e3);
      out->write = rw == "W";
      out->bytes = static_cast<uint32_t>(bytes);
      return true;
    }
    return false;
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t line_ = 0;
};

}  // namespace

std::unique_ptr<TrafficSource> make_pattern(const PatternConfig& c) {
  return std::make_unique<Pattern>(c);
}

std::unique_ptr<TrafficSource> load_trace(const std::string& path) {
  return std::make_unique<Trace>(path);
}

TrafficGenerator::TrafficGenerator(const sc_core::sc_module_name& name,
                                   std::unique_ptr<TrafficSource> source, uint32_t outstanding)
    : sc_core::sc_module(name), socket("socket"), source_(std::move(source)) {
  socket.register_nb_transport_bw(this, &TrafficGenerator::nb_transport_bw);
  for (uint32_t i = 0; i < outstanding; ++i) {
    auto slot = std::make_unique<Slot>();
    auto* tag = new Tag;  // owned by the payload
    tag->slot = slot.get();
    slot->payload.set_extension(tag);
    slot->payload.set_byte_enable_ptr(nullptr);
    free_.push_back(slot.get());
    slots_.push_back(std::move(slot));
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
    tlm::tlm_generic_payload& p = slot->payload;
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
  Slot* slot = trans.get_extension<Tag>()->slot;
  const uint64_t now = sc_core::sc_time_stamp().value();
  latencies_ns_.push_back(static_cast<double>(now - slot->issued_ps) * 1e-3);
  last_response_ps_ = std::max(last_response_ps_, now);
  --in_flight_;
  free_.push_back(slot);
  issue();
  return tlm::TLM_COMPLETED;
}

}  // namespace npusim::memory

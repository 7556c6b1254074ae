#include "memory/pim/pim_channel.h"

#include <algorithm>

#include "common/integer.h"

namespace npusim::memory::pim {

using dram::Command;

PimChannel::PimChannel(const PimSpec& spec, Done done)
    : spec_(spec), done_(std::move(done)), row_bytes_(spec.dram.row_bytes()) {}

uint32_t PimChannel::pass_vectors(const PimJob& j) const {
  const uint32_t per_pass = std::min(j.vectors, slots());
  return std::min(per_pass, j.vectors - pass_ * per_pass);
}

uint32_t PimChannel::batch_chunks(const PimJob& j) const {
  return std::max(1u, slots() / std::min(j.vectors, slots()));
}

uint32_t PimChannel::chunks_in_batch(const PimJob& j) const {
  return std::min(batch_chunks(j), j.chunks - batch_ * batch_chunks(j));
}

uint32_t PimChannel::columns_of(const PimJob& j, uint32_t c) const {
  return c + 1 == j.chunks && j.last_columns > 0 ? j.last_columns : spec_.dram.columns;
}

void PimChannel::bus(uint64_t first, uint64_t last, uint64_t bursts) {
  if (ledger_ == nullptr) return;
  ledger_->add_at(bus_column_, spec_.dram.ps_of((first + last) / 2),
                  static_cast<double>(bursts * spec_.dram.burst_cycles));
}

// ACT-PRE pairs to a reserved row of bank 0 (the last row), each at its
// earliest clock.
void PimChannel::mode_switch(dram::ChannelController& ch, uint64_t now) {
  const uint32_t reserved = spec_.dram.rows - 1;
  for (uint32_t i = 0; i < spec_.mode_switch_acts; ++i) {
    const uint64_t act = std::max(now, ch.timing().earliest(Command::ACT, 0));
    ch.issue_command(Command::ACT, 0, act, reserved);
    const uint64_t pre = ch.timing().earliest(Command::PRE, 0);
    ch.issue_command(Command::PRE, 0, pre);
    horizon_ = std::max(horizon_, pre);
    finish_ = std::max(finish_, pre);
  }
  if (spec_.mode_switch_acts > 0) ++stats_.mode_switches;
}

bool PimChannel::plan_stage(dram::ChannelController& ch, uint64_t now, uint64_t& wait) {
  const PimJob& j = jobs_.front();
  const dram::DramSpec& d = spec_.dram;
  const dram::ChannelTiming& t = ch.timing();
  const uint32_t spacing = spec_.macab_spacing(j.element_bytes);
  switch (stage_) {
    case Stage::Enter:
      started_ = finish_ = now;
      horizon_ = std::max(horizon_, now);
      pass_ = batch_ = group_ = chunk_ = 0;
      if (!pim_mode_) mode_switch(ch, now);
      pim_mode_ = true;
      stage_ = Stage::Broadcast;
      return true;
    case Stage::Broadcast: {
      uint64_t columns = 0;
      for (uint32_t c = 0; c < chunks_in_batch(j); ++c) {
        columns += columns_of(j, batch_ * batch_chunks(j) + c);
      }
      const uint64_t bursts = uint64_t{pass_vectors(j)} * columns;
      const uint64_t first = std::max({now, t.earliest(Command::WRGB, 0), buffer_free_});
      const uint64_t last = first + (bursts - 1) * std::max(d.WRGB, d.CCD_S);
      ch.issue_all(Command::WRGB, last, bursts);
      bus(first, last, bursts);
      input_ready_ = last + d.CWL + d.burst_cycles;
      horizon_ = std::max(horizon_, last);
      stage_ = Stage::Row;
      return true;
    }
    case Stage::Row: {
      const uint32_t chunk = batch_ * batch_chunks(j) + chunk_;
      const uint64_t macabs =
          uint64_t{columns_of(j, chunk)} * spec_.banks_per_unit * pass_vectors(j);
      const uint64_t act = std::max(now, t.earliest(Command::ACTAB, 0));
      const uint64_t first_mac = std::max(act + d.RCD_RD, input_ready_);
      const uint64_t last_mac = first_mac + (macabs - 1) * spacing;
      const uint64_t pre = std::max(act + d.RAS, last_mac + d.RTPL);
      // An all-bank refresh due before the row would be closed comes first.
      if (d.refresh == DramConfig::ALL_BANK && pre + d.RP > ch.refresh_due()) {
        wait = ch.refresh_due();
        return false;
      }
      const uint32_t row = j.base_row + group_ * j.chunks + chunk;
      ch.issue_all(Command::ACTAB, act, 1, row);
      ch.issue_all(Command::MACAB, last_mac, macabs);
      const uint64_t prea = t.earliest(Command::PREA, 0);  // = pre, by the timing state
      ch.issue_all(Command::PREA, prea);
      const uint64_t macs = macabs * spec_.units() * (d.burst_bytes() / j.element_bytes);
      stats_.macs += macs;
      if (ledger_ != nullptr) {
        ledger_->add_at(macs_column_, d.ps_of((first_mac + last_mac) / 2),
                        static_cast<double>(macs));
        ledger_->add_at(rows_column_, d.ps_of(act), 1.0);
      }
      last_mac_ = last_mac;
      buffer_free_ = last_mac + 1;  // the buffer may be overwritten after its last use
      horizon_ = std::max(horizon_, prea);
      finish_ = std::max(finish_, prea);
      if (++chunk_ == chunks_in_batch(j)) stage_ = Stage::Readout;
      return true;
    }
    case Stage::Readout: {
      const uint64_t bytes = uint64_t{d.banks()} * pass_vectors(j) * j.element_bytes;
      const uint64_t bursts = ceil_div(bytes, d.burst_bytes());
      const uint64_t first = std::max({now, t.earliest(Command::RDRES, 0), last_mac_ + spacing});
      const uint64_t last = first + (bursts - 1) * std::max(d.RDRES, d.CCD_S);
      ch.issue_all(Command::RDRES, last, bursts);
      bus(first, last, bursts);
      horizon_ = std::max(horizon_, last);
      finish_ = std::max(finish_, last + d.CL + d.burst_cycles);
      chunk_ = 0;
      if (++group_ < j.groups) {
        stage_ = Stage::Row;  // the same input, the next group
        return true;
      }
      group_ = 0;
      const auto batches = static_cast<uint32_t>(ceil_div(j.chunks, batch_chunks(j)));
      if (++batch_ == batches) {
        batch_ = 0;
        const uint32_t per_pass = std::min(j.vectors, slots());
        if (++pass_ == ceil_div(j.vectors, per_pass)) {
          stage_ = Stage::Exit;
          return true;
        }
      }
      stage_ = Stage::Broadcast;
      return true;
    }
    case Stage::Exit: {
      if (jobs_.size() == 1) {  // nothing queued behind it: back to ordinary access
        mode_switch(ch, now);
        pim_mode_ = false;
      }
      stats_.busy_cycles += finish_ - started_;
      ++stats_.gemvs;
      const PimJob done = j;
      jobs_.pop_front();
      stage_ = Stage::Enter;
      done_(done.request, finish_);
      return true;
    }
  }
  return false;
}

uint64_t PimChannel::plan(dram::ChannelController& ch, uint64_t now) {
  while (!jobs_.empty()) {
    if (stage_ == Stage::Enter && jobs_.front().arrival > now) return jobs_.front().arrival;
    if (horizon_ > now + dram::ChannelController::kPlanWindow) {
      return horizon_ - dram::ChannelController::kPlanWindow;
    }
    uint64_t wait = dram::kNever;
    if (!plan_stage(ch, now, wait)) return std::max(now + 1, wait);
  }
  return dram::kNever;
}

}  // namespace npusim::memory::pim

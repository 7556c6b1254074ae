// Processing in memory (memory/pim): the PIM command constraints at their
// boundaries, GEMV time worked out by hand, the power cap, ordinary traffic
// unchanged, energy, bad configs, and the weight layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <set>

#include <tlm_utils/simple_initiator_socket.h>

#include "memory/dram/address_mapping.h"
#include "memory/dram/channel_timing.h"
#include "memory/pim/pim_layout.h"
#include "memory/pim/pim_memory.h"
#include "memory/pim/pim_request.h"
#include "memory/pim/pim_spec.h"
#include "memory/registry.h"
#include "sim/sim_context.h"
#include "test_util.h"

namespace npusim::memory::pim {
namespace {

using dram::ChannelTiming;
using dram::Command;

PimConfig pim_config(const std::string& preset, bool refresh = true) {
  PimConfig c;
  c.set_preset(preset);
  if (!refresh) c.mutable_dram()->set_refresh(DramConfig::NO_REFRESH);
  return c;
}

PimSpec spec_of(const PimConfig& c) {
  return resolve_spec(c, "test", "memory.pim");
}

// Refused one clock before `t`, allowed at `t`.
void expect_boundary(const ChannelTiming& ch, Command c, uint64_t t, uint32_t bank = 0) {
  EXPECT_FALSE(ch.ready(c, bank, t - 1)) << dram::command_name(c) << " at " << t - 1;
  EXPECT_TRUE(ch.ready(c, bank, t)) << dram::command_name(c) << " at " << t;
}

class PimTiming : public ::testing::Test {
 protected:
  PimSpec p = spec_of(pim_config("HBM3-PIM"));
  const dram::DramSpec& s = p.dram;
  ChannelTiming ch{p.dram};
};

TEST_F(PimTiming, ActabToMacabIsTrcdAndMacabToMacabIsTccdab) {
  ch.issue(Command::ACTAB, 0, 100, 5);
  expect_boundary(ch, Command::MACAB, 100 + s.RCD_RD);
  ch.issue(Command::MACAB, 0, 100 + s.RCD_RD);
  EXPECT_EQ(s.CCDAB, 6u);  // power-capped
  expect_boundary(ch, Command::MACAB, 100 + s.RCD_RD + s.CCDAB);
}

TEST_F(PimTiming, ActabToPreaIsTrasMacabToPreaIsTrtplPreaToActabIsTrp) {
  ch.issue(Command::ACTAB, 0, 100, 5);
  expect_boundary(ch, Command::PREA, 100 + s.RAS);
  ch.issue(Command::MACAB, 0, 200);  // late: nRTPL decides, not nRAS
  expect_boundary(ch, Command::PREA, 200 + s.RTPL);
  ch.issue(Command::PREA, 0, 200 + s.RTPL);
  expect_boundary(ch, Command::ACTAB, 200 + s.RTPL + s.RP);
}

TEST(PimTimingRc, ActabToActabIsTrc) {
  PimConfig c = pim_config("HBM3-PIM");
  c.mutable_dram()->mutable_timing()->set_nrc(80);  // above nRAS + nRP = 59
  const PimSpec p = spec_of(c);
  ChannelTiming ch{p.dram};
  ch.issue(Command::ACTAB, 0, 100, 5);
  ch.issue(Command::PREA, 0, 100 + p.dram.RAS);
  expect_boundary(ch, Command::ACTAB, 100 + 80);
}

// An ACTAB occupies every bank: ordinary commands to any bank see it as
// their own ACT, and an ACT to one bank holds the ACTAB back.
TEST_F(PimTiming, AnActabOccupiesEveryBank) {
  ch.issue(Command::ACTAB, 0, 100, 5);
  for (const uint32_t bank : {0u, 13u, 31u}) {
    expect_boundary(ch, Command::RD, 100 + s.RCD_RD, bank);
    expect_boundary(ch, Command::PRE, 100 + s.RAS, bank);
  }
  ch.issue(Command::PREA, 0, 100 + s.RAS);
  expect_boundary(ch, Command::ACT, 100 + s.RC, 17);  // tRC and tRP after PREA: the later

  ChannelTiming fresh{p.dram};
  fresh.issue(Command::ACT, 9, 1000, 3);
  expect_boundary(fresh, Command::ACTAB, 1000 + s.RC);  // bank 9's tRC
  fresh.issue(Command::PRE, 9, 1000 + s.RAS);
  ChannelTiming other{p.dram};
  other.issue(Command::REFab, 0, 500);
  expect_boundary(other, Command::ACTAB, 500 + s.RFC);
}

TEST(PimTimingBus, WrgbAndRdresTakeTheDataBus) {
  PimConfig c = pim_config("HBM3-PIM");
  c.mutable_timing()->set_nwrgb(8);
  c.mutable_timing()->set_nrdres(5);
  const PimSpec p = spec_of(c);
  const dram::DramSpec& s = p.dram;
  ChannelTiming ch{s};
  ch.issue(Command::WRGB, 0, 100);
  expect_boundary(ch, Command::WRGB, 108);
  // A read after the broadcast waits for its data and tWTR_S.
  expect_boundary(ch, Command::RDRES, 100 + s.CWL + s.burst_cycles + s.WTR_S);
  ChannelTiming r{s};
  r.issue(Command::RDRES, 0, 100);
  expect_boundary(r, Command::RDRES, 105);
  expect_boundary(r, Command::WRGB, 100 + s.CL + s.burst_cycles + s.RTW - std::min(s.CWL, s.CL));
}

// Sends reads and GEMVs to a memory; records each response's status and
// time.
struct Probe : sc_core::sc_module {
  struct Request {
    uint64_t address = 0;
    uint32_t bytes = 0;
    std::unique_ptr<PimGemv> gemv;    // a GEMV when set
    std::unique_ptr<PimWrite> write;  // a write through a PIM layout when set
    uint64_t at_ps = 0;               // when it is sent
  };
  tlm_utils::simple_initiator_socket<Probe> socket;
  std::vector<Request> requests;
  std::vector<std::unique_ptr<tlm::tlm_generic_payload>> payloads;
  std::vector<tlm::tlm_response_status> status;
  std::vector<uint64_t> done_ps;
  SC_HAS_PROCESS(Probe);
  explicit Probe(const sc_core::sc_module_name& name) : sc_module(name), socket("socket") {
    socket.register_nb_transport_bw(this, &Probe::bw);
    SC_THREAD(send);
  }
  void read(uint64_t address, uint32_t bytes, uint64_t at_ps = 0) {
    requests.push_back({address, bytes, nullptr, nullptr, at_ps});
  }
  void gemv(uint64_t address, uint32_t m, uint32_t k, uint32_t vectors = 1, uint64_t at_ps = 0,
            uint32_t blocks = 1, uint32_t block = 0) {
    auto g = std::make_unique<PimGemv>();
    g->out_rows = m;
    g->in_cols = k;
    g->vectors = vectors;
    g->blocks = blocks;
    g->block = block;
    requests.push_back({address, m * vectors * 2, std::move(g), nullptr, at_ps});
  }
  // `bytes` at `address` of the region `w` describes, in its logical order.
  void write(const PimWrite& w, uint64_t address, uint32_t bytes) {
    requests.push_back({address, bytes, nullptr, std::make_unique<PimWrite>(w), 0});
  }
  void send() {
    status.assign(requests.size(), tlm::TLM_INCOMPLETE_RESPONSE);
    done_ps.assign(requests.size(), 0);
    for (Request& r : requests) {
      const uint64_t now = sc_core::sc_time_stamp().value();
      if (r.at_ps > now) sc_core::wait(sc_core::sc_time::from_value(r.at_ps - now));
      payloads.push_back(std::make_unique<tlm::tlm_generic_payload>());
      tlm::tlm_generic_payload& p = *payloads.back();
      p.set_command(r.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
      p.set_address(r.address);
      p.set_data_length(r.bytes);
      p.set_streaming_width(r.bytes);
      p.set_data_ptr(nullptr);
      p.set_byte_enable_ptr(nullptr);
      p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      if (r.gemv) p.set_extension(r.gemv.get());
      if (r.write) p.set_extension(r.write.get());
      tlm::tlm_phase phase = tlm::BEGIN_REQ;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      (void)socket->nb_transport_fw(p, phase, delay);
    }
  }
  tlm::tlm_sync_enum bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time&) {
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (payloads[i].get() == &p && phase == tlm::BEGIN_RESP) {
        status[i] = p.get_response_status();
        done_ps[i] = sc_core::sc_time_stamp().value();
        if (requests[i].gemv) p.clear_extension(requests[i].gemv.get());
        if (requests[i].write) p.clear_extension(requests[i].write.get());
      }
    }
    return tlm::TLM_COMPLETED;
  }
};

MemoryConfig memory_of(const PimConfig& pim) {
  MemoryConfig m;
  *m.mutable_pim() = pim;
  return m;
}

struct Outcome {
  std::vector<uint64_t> done_ps;
  std::vector<tlm::tlm_response_status> status;
  MemoryReport report;
  MemoryEnergy energy;
};

// Runs `fill`'s requests on the memory `config` describes.
Outcome run(const MemoryConfig& config, const std::function<void(Probe&)>& fill) {
  const MemoryModelEntry& entry = MemoryRegistry::lookup(config, "test", "memory");
  entry.validate(config, "test", "memory");
  sim::ScopedSimContext context;
  const std::unique_ptr<MemoryModel> memory = entry.create("memory", config);
  Probe probe("probe");
  probe.socket.bind(memory->socket);
  fill(probe);
  context.run();
  Outcome r;
  r.done_ps = probe.done_ps;
  r.status = probe.status;
  memory->report(&r.report);
  memory->energy(sc_core::sc_time_stamp().to_seconds(), &r.energy);
  return r;
}

// The hand-worked case: HBM3-PIM (32 pseudo-channels x 32 banks, a unit per
// bank, tCK 0.769 ns, 1 KiB rows = 32 columns of 16 fp16), no refresh, a
// GEMV of M = 4096 rows x K = 512 columns: one input chunk (a row of 512
// fp16), 4096 / (32 banks x 32 channels) = 4 groups per channel, so each
// channel runs
//   WRGB x 32 (the input row, nCCD_S = 2 apart): the last at 62, its data
//     in at 62 + nCWL 9 + burst 2 = 73;
//   4 rows: ACTAB, MACAB x 32 (nCCDAB apart), PREA (nRTPL after the last
//     MACAB), the next ACTAB nRP after it and its first MACAB nRCD_RD
//     after that: 4 x 32 = 128 MACABs, between rows nRTPL + nRP + nRCD_RD
//     = 7 + 22 + 26 = 55 clocks instead of nCCDAB;
//   RDRES x 2 (32 banks x 2 B = 64 B) nCCDAB after the last MACAB, the
//     data nCL + burst = 19 after the second.
// T(n) = 73 + (128 - 1) n + 3 (55 - n) + n + 2 + 19 clocks for nCCDAB = n:
// T(6) = 1009 clocks = 775.9 ns; T(4) = 759 clocks = 583.7 ns.
// The MACs, 4096 x 512 = 2.1 M, at the units' peak rate (1024 units x 16
// lanes per nCCDAB) would take 128 x n clocks; the rest is the broadcast,
// the row changes and the readout.
uint64_t hand_clocks(uint64_t n) {
  return 73 + 127 * n + 3 * (55 - n) + n + 2 + 19;
}

TEST(PimGemv, TimeIsTheMacsAtTheUnitsRateBoundedByTheCommandTiming) {
  const PimConfig c = pim_config("HBM3-PIM", false);
  const PimSpec p = spec_of(c);
  const Outcome r = run(memory_of(c), [](Probe& probe) { probe.gemv(0, 4096, 512); });
  ASSERT_EQ(r.status[0], tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(r.done_ps[0], p.dram.ps_of(hand_clocks(6)));
  EXPECT_EQ(hand_clocks(6), 1009u);
  const PimStats& s = r.report.pim();
  EXPECT_EQ(s.macs(), 4096u * 512u);
  EXPECT_EQ(s.macab(), 32u * 128u);
  EXPECT_EQ(s.actab(), 32u * 4u);
  EXPECT_EQ(s.prea(), 32u * 4u);
  EXPECT_EQ(s.wrgb(), 32u * 32u);
  EXPECT_EQ(s.rdres(), 32u * 4u * 2u);
  // Peak: units x lanes x (MACAB rate) = 1024 x 16 / (6 x 0.769 ns).
  const double peak = 1024.0 * 16 / (6 * 0.769e-9);
  EXPECT_NEAR(p.macs_per_second(2), peak, peak * 1e-9);
  const double seconds = static_cast<double>(r.done_ps[0]) * 1e-12;
  const double achieved = static_cast<double>(s.macs()) / seconds;
  EXPECT_LT(achieved, peak);
  EXPECT_GT(achieved, 0.75 * peak);
  std::cout << "HBM3-PIM GEMV 4096 x 512: " << seconds * 1e9 << " ns, " << 2 * achieved * 1e-12
            << " TFLOPS of " << 2 * peak * 1e-12 << " peak\n";
}

TEST(PimGemv, UnconstrainedNccdabShortensItByTheRatioOfTheMacPhases) {
  PimConfig c = pim_config("HBM3-PIM", false);
  c.mutable_timing()->set_power_capped(false);
  const PimSpec p = spec_of(c);
  const Outcome free = run(memory_of(c), [](Probe& probe) { probe.gemv(0, 4096, 512); });
  EXPECT_EQ(free.done_ps[0], p.dram.ps_of(hand_clocks(4)));
  // A long GEMV: 64 rows per channel; the MAC phase of a row is nRCD_RD +
  // 31 nCCDAB + nRTPL + nRP, 241 clocks capped and 179 unconstrained: the
  // times go as 241 / 179 = 1.346 but for the broadcast and readout.
  const auto long_gemv = [](Probe& probe) { probe.gemv(0, 65536, 512); };
  const double capped =
      static_cast<double>(run(memory_of(pim_config("HBM3-PIM", false)), long_gemv).done_ps[0]);
  const double unconstrained = static_cast<double>(run(memory_of(c), long_gemv).done_ps[0]);
  EXPECT_NEAR(capped / unconstrained, 241.0 / 179.0, 0.01);
}

// Decode attention's layout (pim_layout.h, blocks): 64 blocks of a score's
// K cache, L = 512 positions x d = 128, on HBM3-PIM without refresh (32
// channels x 32 banks): a block is 16 groups of 32 positions, block b on
// channels 16 (b % 2) to 16 (b % 2) + 15, one group each; d = 128 fp16 fill
// 8 of a row's 32 columns, so a row takes 8 MACABs. Worked by hand (as
// hand_clocks): WRGB x 8, 2 apart, the last at 14, the input in at 14 + 9
// + 2 = 25; ACTAB at 0, the first MACAB at max(nRCD_RD 26, 25) = 26, the
// last at 26 + 7 x 6 = 68; RDRES x 2 from 68 + 6 = 74, the second at 76,
// its data 19 later: 95 clocks. Blocks on other channels run alongside; two
// on the same channels one after the other, without leaving PIM mode.
TEST(PimGemv, ABlockRunsOnTheChannelsHoldingItsGroups) {
  const PimConfig c = pim_config("HBM3-PIM", false);
  const PimSpec p = spec_of(c);
  ASSERT_EQ(p.geometry().channels, 32u);
  ASSERT_EQ(p.geometry().banks, 32u);
  const auto gemvs = [&](std::vector<uint32_t> blocks) {
    return run(memory_of(c), [&](Probe& probe) {
      for (const uint32_t b : blocks) probe.gemv(0, 512, 128, 1, 0, 64, b);
    });
  };
  const Outcome one = gemvs({0});
  ASSERT_EQ(one.status[0], tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(one.done_ps[0], p.dram.ps_of(95));
  EXPECT_EQ(one.report.pim().actab(), 16u);
  EXPECT_EQ(one.report.pim().macab(), 16u * 8);
  EXPECT_EQ(one.report.pim().macs(), 512u * 128);
  const Outcome beside = gemvs({0, 1});
  EXPECT_EQ(beside.done_ps[0], one.done_ps[0]);
  EXPECT_EQ(beside.done_ps[1], one.done_ps[0]);
  const Outcome behind = gemvs({0, 2});
  EXPECT_EQ(behind.done_ps[0], one.done_ps[0]);
  EXPECT_GT(behind.done_ps[1], one.done_ps[0] + p.dram.ps_of(p.dram.RC));
  EXPECT_EQ(behind.report.pim().mode_switches(), one.report.pim().mode_switches());
  // A block past the region's count is refused.
  const Outcome bad = gemvs({64});
  EXPECT_EQ(bad.status[0], tlm::TLM_GENERIC_ERROR_RESPONSE);
}

// An append to a KV cache laid out for PIM: a key (a score's output row: d
// elements in consecutive columns of one bank) is one run of bursts in one
// row; a value (one element of each of d output rows: a column of the
// context's matrix) is a masked burst in each of d banks.
TEST(PimMemory, AnAppendWritesEachElementWhereTheLayoutPutsIt) {
  const PimConfig c = pim_config("HBM3-PIM", false);
  PimWrite key;
  key.out_rows = 512;  // L
  key.in_cols = 128;   // d
  key.blocks = 64;
  key.outputs_major = true;
  PimWrite value = key;
  value.out_rows = 128;  // d
  value.in_cols = 512;   // L
  value.outputs_major = false;
  // Position 300 of block 5: a key is row 300 of the block's [512][128].
  const uint64_t block = 5 * 512 * 128 * 2;
  const Outcome k =
      run(memory_of(c), [&](Probe& probe) { probe.write(key, block + 300 * 128 * 2, 128 * 2); });
  ASSERT_EQ(k.status[0], tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(k.report.dram().total().wr(), 8u);  // 256 bytes, 32 per burst
  EXPECT_EQ(k.report.dram().total().act(), 1u);
  // A value is row 300 of the block's [512][128] too, but its elements are
  // output rows 0..127 of column 300: 4 groups of 32 banks.
  const Outcome v =
      run(memory_of(c), [&](Probe& probe) { probe.write(value, block + 300 * 128 * 2, 128 * 2); });
  ASSERT_EQ(v.status[0], tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(v.report.dram().total().wr(), 128u);
  EXPECT_EQ(v.report.dram().total().act(), 128u);
  EXPECT_GT(v.done_ps[0], k.done_ps[0]);
  // Outside the region's logical bytes: refused.
  const Outcome past =
      run(memory_of(c), [&](Probe& probe) { probe.write(key, 64ull * 512 * 128 * 2 - 2, 4); });
  EXPECT_EQ(past.status[0], tlm::TLM_GENERIC_ERROR_RESPONSE);
}

// Ordinary reads on a PIM memory: the same times and counters as on the
// DRAM it is built on.
TEST(PimMemory, OrdinaryReadsAreTheDramsOwn) {
  const PimConfig c = pim_config("HBM3-PIM");
  MemoryConfig dram;
  *dram.mutable_dram() = resolve_config(c, "test", "memory.pim").dram();
  const auto reads = [](Probe& probe) {
    for (uint64_t i = 0; i < 400; ++i) {
      probe.read((i * 7919 * 64) % (uint64_t{1} << 30), i % 3 == 0 ? 4096 : 64, i * 3000);
    }
  };
  const Outcome on_pim = run(memory_of(c), reads);
  const Outcome on_dram = run(dram, reads);
  EXPECT_EQ(on_pim.done_ps, on_dram.done_ps);
  EXPECT_EQ(on_pim.report.dram().total().SerializeAsString(),
            on_dram.report.dram().total().SerializeAsString());
  EXPECT_EQ(on_pim.report.pim().macab(), 0u);
}

// A read that arrives during a GEMV waits for it (the channel is in PIM
// mode); one before it goes first.
TEST(PimMemory, AReadDuringAGemvWaitsForIt) {
  const PimConfig c = pim_config("HBM3-PIM", false);
  const Outcome r = run(memory_of(c), [](Probe& probe) {
    probe.gemv(0, 4096, 512, 1, 0);
    probe.read(1 << 20, 32, 100000);  // 100 ns in
  });
  EXPECT_GT(r.done_ps[1], r.done_ps[0] - 100000);
  const Outcome alone = run(memory_of(c), [](Probe& probe) { probe.read(1 << 20, 32, 100000); });
  EXPECT_GT(r.done_ps[1], alone.done_ps[0] + 500000);
}

TEST(PimMemory, EnergyCountsEachCommand) {
  const PimConfig c = pim_config("HBM3-PIM", false);
  const PimSpec p = spec_of(c);
  const Outcome r = run(memory_of(c), [](Probe& probe) { probe.gemv(0, 4096, 512); });
  const PimStats& s = r.report.pim();
  const DramEnergy& e = p.dram.energy;
  const double bits = 32 * 8;
  // ACTAB = 32 x ACT and MACAB = 32 x a burst's RD (one per bank; Newton
  // and NeuPIMs count 4), WRGB and RDRES as writes and reads with I/O, the
  // lanes' MACs at 0.5 pJ.
  const double expected = static_cast<double>(s.actab()) * 32 * e.act_nj() * 1e-9 +
                          static_cast<double>(s.macab()) * 32 * bits * e.read_pj_per_bit() * 1e-12 +
                          static_cast<double>(s.wrgb() + s.rdres()) * bits *
                              (e.write_pj_per_bit() + e.io_pj_per_bit()) * 1e-12 +
                          static_cast<double>(s.macs()) * 0.5e-12;
  EXPECT_NEAR(r.energy.pim(), expected, expected * 1e-9);
  EXPECT_NEAR(r.energy.total(),
              r.energy.activate() + r.energy.read_write() + r.energy.io() + r.energy.refresh() +
                  r.energy.background() + r.energy.pim(),
              1e-15);
  EXPECT_EQ(r.report.dram().total().act(), 0u);  // no ordinary ACT
  std::cout << "HBM3-PIM GEMV 4096 x 512: " << r.energy.pim() * 1e9 << " nJ of PIM commands\n";
}

std::string error_of(const std::vector<std::function<void(PimConfig&)>>& edits,
                     const std::string& preset = "HBM3-PIM") {
  PimConfig c = pim_config(preset);
  for (const auto& e : edits) e(c);
  const MemoryConfig m = memory_of(c);
  return test::error_of([&] {
    MemoryRegistry::lookup(m, "pim.textproto", "memory").validate(m, "pim.textproto", "memory");
  });
}

TEST(PimConfigErrors, InconsistentUnitsNameTheFieldAndTheConstraint) {
  const auto has = [](const std::string& error, const std::string& text) {
    return error.find(text) != std::string::npos;
  };
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_units()->set_banks_per_unit(3); }}),
                  "pim.textproto: memory.pim.units.banks_per_unit: 3 does not divide the 32 banks "
                  "per channel"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_units()->set_lanes(0); }}),
                  "memory.pim.units.lanes: must be between 1 and 1024"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_units()->set_lanes(64); }}),
                  "memory.pim.units.lanes: 64 lanes exceed the 32 elements a column holds"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_units()->set_clock_mhz(2000); }}),
                  "memory.pim.units.clock_mhz: 2000 MHz is faster than the DRAM's command clock "
                  "(1300 MHz)"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_units()->set_buffer_bytes(1000); }}),
                  "memory.pim.units.buffer_bytes: 1000 is not a multiple of the 1024-byte row"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_timing()->set_nccdab_unconstrained(9); }}),
                  "memory.pim.timing.nCCDAB_unconstrained: 9 exceeds the power-capped nCCDAB 6"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.set_preset("HBM9-PIM"); }}),
                  "memory.pim.preset: unknown PIM preset 'HBM9-PIM'"));
  EXPECT_TRUE(has(
      error_of({[](PimConfig& c) { c.mutable_dram()->set_address_mapping("ba ro co bg st ch"); }}),
      "memory.pim.dram.address_mapping: 'ba ro co bg st ch': a PIM memory needs"));
  EXPECT_TRUE(has(error_of({[](PimConfig& c) { c.mutable_dram()->mutable_timing()->set_nrc(10); }}),
                  "memory.pim.dram.timing.nRC"));
  for (const auto& name : preset_names()) EXPECT_EQ(error_of({}, name), "(no error)") << name;
}

// The layout maps the weights of an aligned matrix one to one onto the
// region's bytes, and those of any matrix into it without overlap.
TEST(PimLayout, WeightsMapOneToOneOntoTheRegion) {
  for (const bool hash : {false, true}) {
    PimConfig c = pim_config("LPDDR5-PIM");  // 4 channels x 16 banks, 2 KiB rows
    c.mutable_dram()->set_channel_hash(hash);
    const PimSpec p = spec_of(c);
    const dram::AddressMapping mapping(p.dram, "t", "m");
    const uint64_t stripe = p.geometry().stripe_bytes();
    ASSERT_EQ(stripe, 2048u * 16 * 4);
    for (const auto& [m, k] : {std::pair<uint32_t, uint32_t>{128, 2048}, {100, 700}}) {
      const uint64_t base = 3 * stripe;
      const PimRegion region(p, base, m, k, 2);
      std::vector<uint64_t> addresses;
      for (uint32_t i = 0; i < m; ++i) {
        for (uint32_t j = 0; j < k; ++j) {
          const uint64_t a = region.address(i, j);
          ASSERT_GE(a, base);
          ASSERT_LT(a, base + region.bytes());
          // The byte decodes to the place the layout gives.
          const PimPlace place = region.layout().place(i, j);
          const dram::DramAddress d = mapping.decode(a);
          ASSERT_TRUE(d.channel == place.channel && d.bank == place.bank && d.row == place.row &&
                      d.column == place.column)
              << i << "," << j;
          addresses.push_back(a);
        }
      }
      std::sort(addresses.begin(), addresses.end());
      EXPECT_EQ(std::adjacent_find(addresses.begin(), addresses.end()), addresses.end());
      if (m == 128) {
        EXPECT_EQ(region.bytes(), uint64_t{m} * k * 2) << "aligned: a bijection";
      }
    }
  }
}

// Blocks (pim_layout.h): each block's output rows take whole groups of
// their own, the groups a channel holds of a block are consecutive slots from
// first_slot_on(), and every element of every block has its own byte.
TEST(PimLayout, BlocksTakeWholeGroupsOfTheirOwn) {
  const PimConfig c = pim_config("LPDDR5-PIM");  // 4 channels x 16 banks, 2 KiB rows
  const PimSpec p = spec_of(c);
  const uint64_t stripe = p.geometry().stripe_bytes();
  constexpr uint32_t kBlocks = 5, kM = 40, kK = 700;  // 3 groups of 16 per block (8 rows padding)
  const PimRegion region(p, 2 * stripe, kM, kK, 2, kBlocks);
  const PimLayout& layout = region.layout();
  EXPECT_EQ(layout.block_groups(), 3u);
  EXPECT_EQ(layout.groups(), 15u);
  EXPECT_EQ(layout.chunks(), 1u);
  EXPECT_EQ(layout.last_chunk_columns(), (700u * 2 + 31) / 32);
  std::vector<uint64_t> addresses;
  for (uint32_t b = 0; b < kBlocks; ++b) {
    uint32_t groups = 0;
    for (uint32_t ch = 0; ch < 4; ++ch) {
      groups += layout.groups_on(ch, b);
      for (uint32_t m = 0; m < kM; ++m) {
        const PimPlace place = layout.place(m, 0, b);
        if (place.channel != ch) continue;
        const uint32_t first = 2 + layout.first_slot_on(ch, b) * layout.chunks();
        EXPECT_GE(place.row, first);
        EXPECT_LT(place.row, first + layout.groups_on(ch, b) * layout.chunks());
      }
    }
    EXPECT_EQ(groups, layout.block_groups());
    for (uint32_t m = 0; m < kM; ++m) {
      for (uint32_t k = 0; k < kK; k += 7) addresses.push_back(region.address(m, k, b));
    }
  }
  for (const uint64_t a : addresses) {
    ASSERT_GE(a, 2 * stripe);
    ASSERT_LT(a, 2 * stripe + region.bytes());
  }
  std::sort(addresses.begin(), addresses.end());
  EXPECT_EQ(std::adjacent_find(addresses.begin(), addresses.end()), addresses.end());
  EXPECT_EQ(region.bytes(), 4 * stripe);  // 15 groups on 4 channels: 4 slots of one row
}

// Every published figure each preset models, computed by the model.
TEST(PimPresets, ThroughputIsTheUnitsArithmetic) {
  struct Case {
    const char* name;
    double capped_tflops, free_tflops, unit_tflops;
  };
  for (const Case& c :
       {Case{"HBM3-PIM", 7.10, 10.65, 21.8}, Case{"HBM2-PIM", 1.229, 1.229, 1.229},
        Case{"GDDR6-AiM", 0.512, 1.024, 1.024}, Case{"LPDDR5-PIM", 0.4096, 0.8192, 0.8192}}) {
    PimConfig config = pim_config(c.name);
    const double capped = 2 * spec_of(config).macs_per_second(2) * 1e-12;
    config.mutable_timing()->set_power_capped(false);
    const PimSpec free = spec_of(config);
    EXPECT_NEAR(capped, c.capped_tflops, 0.01 * c.capped_tflops) << c.name;
    EXPECT_NEAR(2 * free.macs_per_second(2) * 1e-12, c.free_tflops, 0.01 * c.free_tflops) << c.name;
    EXPECT_NEAR(2 * free.unit_macs_per_second() * 1e-12, c.unit_tflops, 0.01 * c.unit_tflops)
        << c.name;
    std::cout << c.name << ": " << capped << " TFLOPS capped, "
              << 2 * free.macs_per_second(2) * 1e-12 << " unconstrained, units' peak "
              << 2 * free.unit_macs_per_second() * 1e-12 << "\n";
  }
}

// Simulation speed: a 4096 x 4096 GEMV on HBM3-PIM against reading its
// 32 MiB of weights from HBM3 (the decode step PIM replaces).
TEST(PimSpeed, AGemvSimulatesNoSlowerThanReadingItsWeights) {
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  auto t0 = Clock::now();
  const Outcome pim =
      run(memory_of(pim_config("HBM3-PIM")), [](Probe& probe) { probe.gemv(0, 4096, 4096); });
  const double pim_s = seconds(t0);
  MemoryConfig hbm3;
  hbm3.mutable_dram()->set_preset("HBM3-6400");
  t0 = Clock::now();
  const Outcome dram = run(hbm3, [](Probe& probe) {
    for (uint64_t i = 0; i < 32; ++i) probe.read(i << 20, 1 << 20);
  });
  const double dram_s = seconds(t0);
  std::cout << "4096 x 4096 fp16: PIM " << pim.done_ps[0] * 1e-6 << " us simulated in " << pim_s
            << " s; HBM3 read " << dram.done_ps.back() * 1e-6 << " us simulated in " << dram_s
            << " s\n";
  EXPECT_LT(pim_s, 1.5 * dram_s + 0.05);
  EXPECT_EQ(pim.report.pim().macs(), 4096u * 4096u);
}

}  // namespace
}  // namespace npusim::memory::pim

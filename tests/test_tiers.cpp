// Memory tiers: several memories behind an address-routed interconnect, a
// far one behind a link, and placement rules that put tensor classes and
// layers into them with capacity-aware spill.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "common/address_space.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/passes/placement.h"
#include "memory/link.h"
#include "sim/config.h"
#include "sim/functional_run.h"
#include "sim/memtest.h"
#include "sim/report_io.h"
#include "sim/sweep.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim {
namespace {

using compiler::PlaceClass;
using compiler::PlacementOptions;

// Near: 1000 GB/s, 100 ns. Far: 1000 GB/s, 100 ns, behind a 64 GB/s link
// of 500 ns each way with 16 bytes of header per transaction each way.
constexpr double kLinkGbps = 64, kLinkNs = 500, kHeader = 16, kMemoryNs = 100, kMemoryGbps = 1000;

System tiered(const std::vector<std::string>& sets = {},
              const std::vector<std::string>& places = {}) {
  System s = test::preset();
  s.clear_memory();
  const std::string text = fmt::format(
      "memories {{ name: 'near' capacity_bytes: 1073741824 ideal {{ bandwidth_gbps: {0} "
      "latency_ns: {1} }} }}\n"
      "memories {{ name: 'far' capacity_bytes: 4294967296 ideal {{ bandwidth_gbps: {0} "
      "latency_ns: {1} }} link {{ name: 'C2C' bandwidth_gbps: {2} latency_ns: {3} header_bytes: "
      "{4} pj_per_bit: 2 }} }}\n",
      kMemoryGbps, kMemoryNs, kLinkGbps, kLinkNs, kHeader);
  System tiers;
  sim::parse_textproto(text, "tiers", &tiers);
  s.MergeFrom(tiers);
  return sim::complete_system(s, "tiered", sets, places);
}

Graph two_layers() {
  compiler::DecodeShape s;
  s.batch = 2;
  s.kv_len = 64;
  return compiler::build_decoder_layers(compiler::parse_layer("tiny", "test"), s, 2);
}

PlacementOptions two_memories(uint64_t near, uint64_t far) {
  PlacementOptions o;
  o.memories = {{"near", near, "near.capacity_bytes"}, {"far", far, "far.capacity_bytes"}};
  return o;
}

compiler::PlacementRule rule(std::vector<PlaceClass> classes, std::vector<uint32_t> memories) {
  compiler::PlacementRule r;
  r.classes = std::move(classes);
  r.memories = std::move(memories);
  r.where = "rule";
  return r;
}

PlaceClass class_of(const Tensor& t) {
  if (t.tensor_class() == KV_CACHE) return PlaceClass::KvCache;
  return t.tensor_class() == ACTIVATION ? PlaceClass::Activations : PlaceClass::Weights;
}

TEST(Placement, RulesPutEachClassWhereThePolicySays) {
  Graph g = two_layers();
  PlacementOptions o = two_memories(0, 0);
  o.rules = {rule({PlaceClass::KvCache}, {1}), rule({PlaceClass::Weights}, {0})};
  const std::vector<uint64_t> used = compiler::place_in_memories(g, o);
  std::map<uint32_t, std::vector<std::pair<uint64_t, uint64_t>>> ranges;
  for (const Tensor& t : g.tensors()) {
    if (!t.alias_of().empty()) continue;
    const uint32_t m = memory_of(t.address());
    // KV caches far; weights and (no rule: the memories in order) activations near.
    EXPECT_EQ(m, class_of(t) == PlaceClass::KvCache ? 1u : 0u) << t.name();
    EXPECT_EQ(t.memory(), m == 0 ? "near" : "far") << t.name();
    EXPECT_EQ(local_address(t.address()) % 4096, 0u);
    ranges[m].emplace_back(local_address(t.address()), local_address(t.address()) + t.size_bytes());
  }
  for (auto& [m, r] : ranges) {  // disjoint, and the used bytes end with the last
    std::sort(r.begin(), r.end());
    for (size_t i = 1; i < r.size(); ++i) EXPECT_LE(r[i - 1].second, r[i].first);
    EXPECT_EQ(used[m], r.back().second);
  }
}

// The near memory holds exactly three KV caches after everything else: the
// fourth spills, and the far memory holds exactly the overflow.
TEST(Placement, ASpillMovesExactlyTheOverflow) {
  Graph g = two_layers();
  uint64_t kv = 0, kv_each = 0;
  for (const Tensor& t : g.tensors()) {
    if (t.tensor_class() != KV_CACHE) continue;
    kv += t.size_bytes();
    kv_each = t.size_bytes();
    ASSERT_EQ(t.size_bytes() % 4096, 0u);  // no padding between them
  }
  ASSERT_EQ(kv, 4 * kv_each);  // k and v of two layers
  PlacementOptions o = two_memories(3 * kv_each, 0);
  o.rules = {rule({PlaceClass::KvCache}, {0, 1}), rule({}, {1})};
  const std::vector<uint64_t> used = compiler::place_in_memories(g, o);
  EXPECT_EQ(used[0], 3 * kv_each);
  uint64_t far_kv = 0;
  std::vector<std::string> spilled;
  for (const Tensor& t : g.tensors()) {
    if (t.tensor_class() == KV_CACHE && memory_of(t.address()) == 1) {
      far_kv += t.size_bytes();
      spilled.push_back(t.name());
    }
  }
  EXPECT_EQ(far_kv, kv - 3 * kv_each);
  EXPECT_EQ(spilled, std::vector<std::string>{"layers.1.v_cache"});  // the last in graph order
}

TEST(Placement, LayerRangesAndExpertsSelectTheirTensors) {
  Graph g = two_layers();
  PlacementOptions o = two_memories(0, 0);
  compiler::PlacementRule second = rule({PlaceClass::Weights}, {1});
  second.first_layer = 1;
  second.last_layer = 1;
  o.rules = {second};
  (void)compiler::place_in_memories(g, o);
  for (const Tensor& t : g.tensors()) {
    const bool far = t.is_parameter() && t.has_layer() && t.layer() == 1;
    EXPECT_EQ(memory_of(t.address()), far ? 1u : 0u) << t.name();
  }
  // Mixtral-like experts: an EXPERTS rule before a WEIGHTS rule claims them.
  compiler::ModelSpec moe = compiler::parse_layer("tiny", "test");
  moe.experts = 4;
  moe.top_k = 2;
  compiler::DecodeShape s;
  s.batch = 2;
  s.kv_len = 16;
  Graph m = compiler::build_decoder_layers(moe, s, 1);
  PlacementOptions e = two_memories(0, 0);
  e.rules = {rule({PlaceClass::Experts}, {1}), rule({PlaceClass::Weights}, {0})};
  (void)compiler::place_in_memories(m, e);
  int experts = 0;
  for (const Tensor& t : m.tensors()) {
    const bool expert = t.name().find(".experts.") != std::string::npos && t.is_parameter();
    experts += expert ? 1 : 0;
    EXPECT_EQ(t.expert(), expert) << t.name();
    EXPECT_EQ(memory_of(t.address()), expert ? 1u : 0u) << t.name();
  }
  EXPECT_EQ(experts, 4 * 3);
}

TEST(Placement, WhatFitsNowhereIsNamedWithWhereItWasTried) {
  Graph g = two_layers();
  uint64_t kv_each = 0;
  for (const Tensor& t : g.tensors())
    kv_each = t.tensor_class() == KV_CACHE ? t.size_bytes() : kv_each;
  // Room for one KV cache in each: two of the four fit nowhere.
  PlacementOptions o = two_memories(kv_each, kv_each);
  o.rules = {rule({PlaceClass::KvCache}, {0, 1})};
  const std::string e = test::error_of([&] { (void)compiler::place_in_memories(g, o); });
  EXPECT_NE(e.find(fmt::format("far.capacity_bytes: 2 tensor(s), {} bytes", 2 * kv_each)),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("fit in none of near (32 KiB of 32 KiB used), far (32 KiB of 32 KiB used)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("the first is 'layers.1.k_cache' (KV cache"), std::string::npos) << e;
  EXPECT_NE(e.find("(by rule)"), std::string::npos) << e;
}

// One request at no load pays the link both ways: its header toward the
// memory, the memory, then the header and the data back.
TEST(Link, AFarReadPaysTheLinkLatencyAndSerialisation) {
  const System s = tiered();
  sim::MemtestOptions o;
  o.memory = "far";
  o.requests = 1;
  o.outstanding = 1;
  o.request_bytes = 64;
  const MemtestReport far = sim::run_memtest(s, o);
  const double ps_per_byte = 1e3 / kLinkGbps;  // 15.625
  const double expected_ns =
      (kHeader * ps_per_byte + kLinkNs * 1e3 + (64 * 1e3 / kMemoryGbps + kMemoryNs * 1e3) +
       (kHeader + 64) * ps_per_byte + kLinkNs * 1e3) *
      1e-3;
  EXPECT_DOUBLE_EQ(far.latency().mean_ns(), expected_ns);  // 1101.564 ns
  o.memory = "near";
  EXPECT_DOUBLE_EQ(sim::run_memtest(s, o).latency().mean_ns(), 100.064);
}

// Streaming reads: the response direction carries data and headers, so the
// far memory streams at the link's bandwidth x data / (data + header).
TEST(Link, AFarStreamRunsAtTheLinksBandwidthLessItsHeaders) {
  const System s = tiered();
  sim::MemtestOptions o;
  o.memory = "far";
  o.requests = 4000;
  o.outstanding = 64;
  o.request_bytes = 2048;
  const MemtestReport r = sim::run_memtest(s, o);
  EXPECT_NEAR(r.achieved_bandwidth_gbps(), kLinkGbps * 2048 / (2048 + kHeader), 0.01 * kLinkGbps);
  EXPECT_DOUBLE_EQ(r.peak_bandwidth_gbps(), kLinkGbps);
}

TEST(Link, TransfersSharingADirectionQueue) {
  LinkConfig c;
  c.set_name("l");
  c.set_bandwidth_gbps(1);  // 1000 ps per byte
  c.set_latency_ns(10);
  memory::Link link(c);
  EXPECT_EQ(link.from_memory(0, 100), 100'000u + 10'000u);
  EXPECT_EQ(link.from_memory(0, 100), 200'000u + 10'000u);  // waits for the first
  EXPECT_EQ(link.to_memory(0, 100), 100'000u + 10'000u);    // the other direction is free
  EXPECT_EQ(link.stats().bytes_from_memory, 200u);
}

// A program loading `near_bytes` from the near memory and `far_bytes` from
// the far one.
Report loads(const System& s, uint64_t near_bytes, uint64_t far_bytes) {
  test::ProgramMaker p;
  const uint32_t t = p.tensor(WEIGHT, std::max(near_bytes, far_bytes));
  for (uint64_t off = 0; off < near_bytes; off += 1 << 20) p.load(t, 1 << 20, off);
  for (uint64_t off = 0; off < far_bytes; off += 1 << 20) p.load(t, 1 << 20, memory_base(1) + off);
  return test::run(s, p.program());
}

TEST(Tiers, FarStreamsShareTheLinkAndTheLimiterNamesIt) {
  const System s = tiered();
  const uint64_t mib64 = 64u << 20;
  const Report far = loads(s, 0, mib64);
  const Report both_far = loads(s, 0, 2 * mib64);
  const Report near_and_far = loads(s, mib64, mib64);
  const double link_seconds =
      mib64 * (1.0 + kHeader / s.core().dma().max_request_bytes()) / (kLinkGbps * 1e9);
  EXPECT_NEAR(far.seconds(), link_seconds, 0.02 * link_seconds);
  EXPECT_NEAR(both_far.seconds() / far.seconds(), 2.0, 0.02);
  // The near memory (16x the link) takes its share beside the far stream.
  EXPECT_LT(near_and_far.seconds() / far.seconds(), 1.1);
  EXPECT_EQ(far.limiter().resource(), "C2C from memory");
  // Busy all but the first request's trip (1.1 us of ~1 ms).
  EXPECT_GT(far.limiter().busy_share(), 0.97);
  ASSERT_EQ(near_and_far.memories_size(), 2);
  EXPECT_EQ(near_and_far.memories(0).read_bytes(), mib64);
  EXPECT_EQ(near_and_far.memories(1).read_bytes(), mib64);
  const uint64_t request = s.core().dma().max_request_bytes();
  EXPECT_EQ(near_and_far.memories(1).link().bytes_from_memory(),
            mib64 + mib64 / request * static_cast<uint64_t>(kHeader));  // a header per request
  const double link_j = (near_and_far.memories(1).link().bytes_to_memory() +
                         near_and_far.memories(1).link().bytes_from_memory()) *
                        8 * 2e-12;
  EXPECT_DOUBLE_EQ(near_and_far.memories(1).link().joules(), link_j);
  EXPECT_NEAR(near_and_far.memory().energy().link(), link_j, 1e-15);
}

// Any placement computes the same numbers: a decoder layer with its KV
// cache and its second half's weights in the far memory. (Up to the order
// of the sums: the tiling, and so where the K loops split, follows the
// speed of the memory a matmul reads; fp16 results within an ulp or two.)
TEST(Tiers, FunctionalOutputsDoNotDependOnPlacement) {
  sim::WorkloadOptions w;
  w.layer = "tiny";
  w.layers = 2;
  w.batch = 2;
  w.kv_len = 24;
  const auto one = test::functional_outputs(test::preset(), w, 3);
  const auto tiers =
      test::functional_outputs(tiered({}, {"kv_cache=far", "weights@1-1=far"}), w, 3);
  ASSERT_FALSE(one.empty());
  ASSERT_EQ(one.size(), tiers.size());
  for (const auto& [name, values] : one) {
    ASSERT_EQ(tiers.count(name), 1u) << name;
    EXPECT_LT(sim::compare(tiers.at(name), values, FP16).max_rel, 2e-3) << name;
  }
}

TEST(Tiers, SetReachesAMemoryByIndexOrName) {
  const System s = tiered({"memories[far].link.latency_ns=7", "memories[0].ideal.latency_ns=3"});
  EXPECT_EQ(s.memories(1).link().latency_ns(), 7);
  EXPECT_EQ(s.memories(0).ideal().latency_ns(), 3);
  EXPECT_NE(test::error_of([] {
              (void)tiered({"memories[2].capacity_bytes=1"});
            }).find("index 2 is past the 2 element(s)"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)tiered({"memories[hbm].capacity_bytes=1"});
            }).find("no element named 'hbm' (names: 'near', 'far')"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)tiered({"memories.capacity_bytes=1"});
            }).find("memories[INDEX] or memories[NAME]"),
            std::string::npos);
}

TEST(Tiers, BadTiersAndPoliciesAreRefusedByName) {
  EXPECT_NE(test::error_of([] { (void)tiered({"memories[far].capacity_bytes=0"}); })
                .find("memories[1].capacity_bytes: each memory of a system with several needs a "
                      "capacity"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)tiered({}, {"kv_cache=cxl"});
            }).find("placement.rules[0].memories: 'cxl' is not a memory of the system"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)tiered({}, {"kv=far"});
            }).find("'kv' is not one of weights, kv_cache, activations, experts, all"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { (void)tiered({}, {"weights@3-1=far"}); }).find("FIRST <= LAST"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)tiered({"memories[1].name=near"});
            }).find("'near' names another memory too"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              (void)tiered({"memory.ideal.bandwidth_gbps=1"});
            }).find("give either memory or memories, not both"),
            std::string::npos);
  // Each memory owns 2^50 addresses: more than 1024 are refused.
  EXPECT_NE(test::error_of([] {
              System s = tiered();
              for (int i = 2; i < 1025; ++i) {
                MemoryConfig* m = s.add_memories();
                *m = s.memories(0);
                m->set_name(fmt::format("m{}", i));
              }
              (void)sim::complete_system(s, "many", {});
            }).find("many: memories: 1025 memories; at most 1024"),
            std::string::npos);
}

// A sweep's CSV gains each memory's bytes, bandwidth and busy share, and
// its link's busier direction.
TEST(Tiers, SweepRowsCarryEachMemoryAndLink) {
  const Report r = loads(tiered(), 1 << 20, 2 << 20);
  const sim::SweepTable table({}, tiered());
  const std::string header = table.header(), row = table.row({}, r);
  EXPECT_NE(header.find(",near_bytes_read,near_bandwidth_gbps,near_busy,far_bytes_read,"
                        "far_bandwidth_gbps,far_busy,far_link_busy"),
            std::string::npos)
      << header;
  EXPECT_NE(row.find(fmt::format(",{},", 1 << 20)), std::string::npos) << row;
  EXPECT_NE(row.find(fmt::format(",{},", 2 << 20)), std::string::npos) << row;
}

}  // namespace
}  // namespace npusim

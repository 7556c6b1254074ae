// Compiler passes on small graphs.
#include <gtest/gtest.h>

#include <functional>

#include "common/error.h"
#include "compiler/compile.h"
#include "compiler/frontends/decoder_layer.h"
#include "compiler/graph_util.h"
#include "compiler/lowering/gemm.h"
#include "compiler/lowering/on_chip.h"
#include "sim/workload.h"
#include "test_util.h"

namespace npusim::compiler {
namespace {

Graph tiny(uint64_t batch = 2, uint64_t kv_len = 16) {
  DecodeShape s;
  s.batch = batch;
  s.kv_len = kv_len;
  return build_decoder_layers(parse_layer("tiny", "test"), s, 1);
}

TEST(Placement, TensorsAreAlignedAndDisjoint) {
  Graph g = tiny();
  const uint64_t used = place(g, {});
  uint64_t end = 0;
  for (const auto& t : g.tensors()) {
    ASSERT_TRUE(t.has_address());
    EXPECT_EQ(t.address() % 4096, 0u);
    EXPECT_GE(t.address(), end) << t.name();
    end = t.address() + t.size_bytes();
  }
  EXPECT_EQ(used, end);
}

TEST(Placement, AModelLargerThanMemorySaysByHowMuch) {
  Graph g = tiny();
  PlacementOptions o;
  o.capacity_bytes = 1000;
  try {
    place(g, o);
    FAIL();
  } catch (const UserError& e) {
    Graph h = tiny();
    const uint64_t need = place(h, {});
    EXPECT_NE(std::string(e.what()).find(std::to_string(need - 1000) + " bytes too many"),
              std::string::npos)
        << e.what();
  }
}

TEST(DecoderLayerGraph, LlamaShapesAndGroupedQueryAttention) {
  DecodeShape s;
  s.batch = 3;
  s.kv_len = 100;
  const Graph g = build_decoder_layers(parse_layer("llama2-70b", "test"), s, 1);
  TensorIndex idx(g);
  EXPECT_EQ(idx.at("layers.0.k_proj.weight", "t").shape(1), 8 * 128);  // 8 KV heads
  EXPECT_EQ(idx.at("layers.0.q_proj.weight", "t").shape(1), 64 * 128);
  const Tensor& kc = idx.at("layers.0.k_cache", "t");
  EXPECT_EQ(kc.size_bytes(), 3u * 8 * 100 * 128 * 2);
  EXPECT_EQ(idx.at("layers.0.down_proj.weight", "t").size_bytes(), 28672u * 8192 * 2);
  EXPECT_THROW((void)parse_layer("hidden=4096,heads=30,kv_heads=8,intermediate=10", "t"),
               UserError);
  EXPECT_EQ(parse_layer("hidden=512,heads=8,intermediate=1024", "t").head_dim, 64u);
}

TEST(Lowering, AnOpWithoutLoweringNamesTheNodeAndOp) {
  Graph g = tiny();
  Node& n = *g.add_nodes();
  n.set_name("lookup");
  n.set_op(OP_TYPE_UNSPECIFIED);
  place(g, {});
  try {
    (void)lower(g, Target{});
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'lookup': op OP_TYPE_UNSPECIFIED has no lowering"),
              std::string::npos)
        << e.what();
  }
}

// Index of the first DMA of `tensor` in `p`'s DMA queue, or -1.
int first_dma(const Program& p, const std::string& tensor) {
  const auto& dma = p.cores(0).dma();
  for (int i = 0; i < dma.size(); ++i) {
    if (p.tensors(static_cast<int>(dma.Get(i).dma().tensor())).name() == tensor) return i;
  }
  return -1;
}

TEST(Lowering, WeightsStreamAheadOfCompute) {
  // Loads go out in the order compute needs them, as early as their buffer
  // allows: with activations going through memory, the first matmul's
  // weights are fetched while the norm before it still runs, before the
  // norm's output is stored.
  Graph g = tiny(1, 16);
  place(g, {});
  Target t;
  t.forward_activations = false;
  const Program p = lower(g, t);
  ASSERT_GE(first_dma(p, "layers.0.q_proj.weight"), 0);
  EXPECT_LT(first_dma(p, "input"), first_dma(p, "layers.0.q_proj.weight"));
  EXPECT_LT(first_dma(p, "layers.0.q_proj.weight"), first_dma(p, "layers.0.attn_norm"));
  EXPECT_EQ(p.cores(0).dma(first_dma(p, "layers.0.attn_norm")).dma().direction(), DmaOp::STORE);
}

TEST(Lowering, ActivationsBetweenOpsStayOnChip) {
  // Decode's activations are a few KiB: each one an op leaves for the next
  // stays in the scratchpad, so the DMA moves only the layer's input and
  // output, the weights, the KV cache and the appended keys and values.
  Graph g = tiny(1, 16);
  place(g, {});
  Graph tiled;
  const Program p = lower(g, Target{}, &tiled);
  // The tiled stage records it on both ends: the norm leaves its output on
  // chip, q_proj reads it there.
  for (const Node& n : tiled.nodes()) {
    if (n.name() == "layers.0.attn_norm" || n.name() == "layers.0.q_proj") {
      EXPECT_EQ(n.attrs().at("on_chip.layers.0.attn_norm").i(), 1) << n.name();
    }
  }
  for (const auto& ins : p.cores(0).dma()) {
    const TensorRef& t = p.tensors(static_cast<int>(ins.dma().tensor()));
    if (t.tensor_class() == ACTIVATION) {
      EXPECT_EQ(t.name(), ins.dma().direction() == DmaOp::LOAD ? "input" : "layers.0.out");
    }
  }
  // Through memory instead, every one of them is stored and loaded again.
  Target off;
  off.forward_activations = false;
  const Program q = lower(g, off);
  for (const char* name : {"layers.0.attn_norm", "layers.0.q_proj", "layers.0.scores",
                           "layers.0.context", "layers.0.residual1", "layers.0.swiglu"}) {
    EXPECT_GE(first_dma(q, name), 0) << name;
    EXPECT_EQ(first_dma(p, name), -1) << name;
  }
  // The program still runs and synchronises: the forwarded tensors' rings
  // between different queues have semaphores, within one queue none.
  bool vec_to_mat = false, vec_to_vec = false;
  for (const auto& sem : p.semaphores()) {
    vec_to_mat |= sem.name().rfind("vec_to_mat", 0) == 0;
    vec_to_vec |= sem.name().rfind("vec_to_vec", 0) == 0;
  }
  EXPECT_TRUE(vec_to_mat);
  EXPECT_FALSE(vec_to_vec);
}

TEST(Lowering, ForwardingHoldsNoMoreTensorsThanARingHasSlots) {
  // q, k and v leave the matrix unit for the vector unit together; with
  // room for one such tensor at a time, only some are forwarded and the
  // rest go through memory.
  Graph g = tiny(1, 16);
  place(g, {});
  TensorIndex idx(g);
  OnChipRings one = OnChip::room(16u << 20);
  for (RingLayout& r : one) r.slots = 1;
  const OnChip planned(g, idx, default_spm_layout(16u << 20, 1, 2, one));
  EXPECT_FALSE(planned.forwarded().empty());
  for (const RingLayout& r : planned.rings()) EXPECT_LE(r.slots, 1u);
  const OnChip roomy(g, idx, default_spm_layout(16u << 20, 1, 2, OnChip::room(16u << 20)));
  EXPECT_GT(roomy.forwarded().size(), planned.forwarded().size());
  EXPECT_EQ(roomy.rings()[static_cast<size_t>(Ring::MatToVec) - kFirstOnChipRing].slots, 3u);
}

TEST(Lowering, ResidentInputsAreReadOnceAndTilesFitTheScratchpad) {
  Graph g = tiny(1, 16);
  place(g, {});
  Target t;
  t.spm_capacity_bytes = 1 << 20;
  const Program p = lower(g, t);
  const SpmLayout layout = default_spm_layout(t.spm_capacity_bytes, t.arrays);
  uint64_t spm_end = 0;
  for (const auto& r : layout.rings) spm_end = std::max(spm_end, r.base + r.slots * r.slot_bytes);
  EXPECT_LE(spm_end, t.spm_capacity_bytes);
  // Every weight byte is loaded exactly once.
  std::map<uint32_t, uint64_t> loaded;
  for (const auto& ins : p.cores(0).dma()) {
    if (ins.dma().direction() == DmaOp::LOAD) {
      loaded[ins.dma().tensor()] += ins.dma().rows() * ins.dma().row_bytes();
    }
  }
  for (int i = 0; i < p.tensors_size(); ++i) {
    if (p.tensors(i).tensor_class() == WEIGHT) {
      EXPECT_EQ(loaded[static_cast<uint32_t>(i)], p.tensors(i).bytes()) << p.tensors(i).name();
    }
  }
}

// out[M x N] = A[M x K] x B[K x N], B packed in tile order (a weight).
GemmSpec packed_gemm(const char* node, uint64_t m, uint64_t k, uint64_t n) {
  GemmSpec s;
  s.node = node;
  s.m = m;
  s.k = k;
  s.n = n;
  s.b_layout = BLayout::Tiled;
  return s;
}

TEST(Lowering, TilingWeighsTheDmaRateOfShortRows) {
  // The teaching preset: 1000 B/cycle, 100 cycles of latency, 64 requests
  // of at most 4 KiB in flight.
  Target t;
  t.arrays = 8;
  t.memory_latency_cycles = 100;
  // Little's law: 64 requests of 512 B, each 100 cycles of latency and
  // 0.5 of transfer, move 64 x 512 / 100.5 B per cycle (the bus, a third
  // busy, queues them a little); long rows (4 KiB requests) reach the peak.
  EXPECT_NEAR(t.stream_bytes_per_cycle(512), 64 * 512 / 100.512, 2.0);
  EXPECT_LT(t.stream_bytes_per_cycle(512), 64 * 512 / 100.512);
  EXPECT_NEAR(t.stream_bytes_per_cycle(8192), 1000.0, 0.1);
  // A DRAM-like memory, 80 channels of 1 KiB rows: a 1 KiB request keeps
  // one channel 80 cycles (the estimate holds that transfer). 128 of them
  // in flight over 80 channels queue behind each other, short of both the
  // peak and Little's law without queueing (128 x 1 KiB / 100 cycles).
  Target d = t;
  d.memory_channels = 80;
  d.memory_granule_bytes = 1024;
  d.dma_outstanding = 128;
  const double unqueued = 128.0 * 1024 / 100;
  EXPECT_LT(d.stream_bytes_per_cycle(1024), 0.9 * std::min(1000.0, unqueued));
  EXPECT_GT(d.stream_bytes_per_cycle(1024), 0.5 * std::min(1000.0, unqueued));
  // 16 KiB requests spread over 16 channels: near the peak.
  d.dma_max_request_bytes = 16384;
  EXPECT_GT(d.stream_bytes_per_cycle(16384), 0.95 * 1000);
  t.memory_latency_cycles = 0;
  EXPECT_NEAR(t.stream_bytes_per_cycle(512), 1000.0, 1e-9);

  // A prefill projection, 2048 x 4096 x 4096: its input tiles are read in
  // rows of tk elements, so re-reading the input once per column block
  // would run at a third of the peak. With the latency known, the tiler
  // keeps a row block resident and streams the (packed) weights past it.
  const GemmSpec s = packed_gemm("q_proj", 2048, 4096, 4096);
  const SpmLayout layout = default_spm_layout(t.spm_capacity_bytes, t.arrays, 6);
  const GemmTiling fast = choose_gemm_tiling(s, t, layout);
  t.memory_latency_cycles = 100;
  const GemmTiling slow = choose_gemm_tiling(s, t, layout);
  EXPECT_GE(slow.cost_cycles, fast.cost_cycles);
  // Four times the latency: re-reading the input's 512 B rows once per
  // column block no longer hides under the MACs.
  t.memory_latency_cycles = 400;
  const GemmTiling slower = choose_gemm_tiling(s, t, layout);
  EXPECT_TRUE(slower.rows_outer || slower.a_resident);
  EXPECT_GE(slower.cost_cycles, slow.cost_cycles);
}

// The tiling of a GEMM is chosen once per key (every field of the spec, the
// target and the layout the choice reads): a model's 80 identical layers on
// 8 cores choose each shape once. A spec or target that differs in any of
// those fields gets its own choice, the one an uncached choice gives.
TEST(Lowering, ATilingComesFromTheCacheOnlyForAnIdenticalChoice) {
  Target t;
  t.array = {64, 64, true};
  t.arrays = 8;
  t.spm_capacity_bytes = 4u << 20;
  t.memory_bytes_per_cycle = 256.0;
  t.memory_latency_cycles = 200;
  const GemmSpec base = packed_gemm("proj", 16, 4096, 4096);
  const SpmLayout layout = default_spm_layout(t.spm_capacity_bytes, t.arrays);
  struct Variant {
    GemmSpec s;
    Target t;
  };
  std::vector<Variant> variants;
  const auto spec = [&](const std::function<void(GemmSpec&)>& change) {
    GemmSpec s = base;
    change(s);
    variants.push_back({s, t});
  };
  const auto target = [&](const std::function<void(Target&)>& change) {
    Target v = t;  // (shares t's cache)
    change(v);
    variants.push_back({base, v});
  };
  spec([](GemmSpec&) {});
  spec([](GemmSpec& s) { s.m = 512; });
  spec([](GemmSpec& s) { s.k = 11008; });
  spec([](GemmSpec& s) { s.n = 1024; });
  spec([](GemmSpec& s) { s.batch = 32; });
  spec([](GemmSpec& s) { s.b.dtype = INT8; });
  spec([](GemmSpec& s) { s.a.dtype = FP32; });
  spec([](GemmSpec& s) { s.out.dtype = FP32; });
  spec([](GemmSpec& s) { s.b_layout = BLayout::KN; });
  spec([](GemmSpec& s) { s.b_layout = BLayout::NK; });
  spec([](GemmSpec& s) { s.a_row_stride = 8192; });
  spec([](GemmSpec& s) { s.out_row_stride = 8192; });
  spec([](GemmSpec& s) { s.b_scales = GemmScales{0, 0, FP16, 128, 4096}; });
  spec([](GemmSpec& s) { s.b_scales = GemmScales{0, 0, FP16, 4096, 4096}; });
  target([](Target& v) { v.memory_latency_cycles = 2000; });
  target([](Target& v) { v.memory_bytes_per_cycle = 16.0; });
  target([](Target& v) { v.dma_max_request_bytes = 256; });
  target([](Target& v) { v.arrays = 1; });
  target([](Target& v) { v.array = {128, 128, true}; });
  target([](Target& v) { v.dataflow = OUTPUT_STATIONARY; });
  const auto same = [](const GemmTiling& a, const GemmTiling& b) {
    return a.tm == b.tm && a.tk == b.tk && a.tn == b.tn && a.transposed == b.transposed &&
           a.a_resident == b.a_resident && a.a_whole == b.a_whole && a.out_whole == b.out_whole &&
           a.rows_outer == b.rows_outer && a.group == b.group && a.problems == b.problems &&
           a.accumulators_per_slot == b.accumulators_per_slot && a.cost_cycles == b.cost_cycles;
  };
  const GemmTiling first = choose_gemm_tiling(base, t, layout);
  size_t differ = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    const GemmTiling cached = choose_gemm_tiling(v.s, v.t, layout);
    Target uncached = v.t;
    uncached.tiling_cache_.reset();
    EXPECT_TRUE(same(cached, choose_gemm_tiling(v.s, uncached, layout))) << "variant " << i;
    differ += same(cached, first) ? 0 : 1;
  }
  // Most variants choose another tiling than the base spec: the check above
  // would have caught one taken from the base's entry.
  EXPECT_GE(differ, variants.size() / 2);
  // One entry per distinct choice (the first variant is the base again).
  EXPECT_EQ(t.tiling_cache_->chosen.size(), variants.size());
  (void)choose_gemm_tiling(base, t, layout);
  EXPECT_EQ(t.tiling_cache_->chosen.size(), variants.size());
}

// Tiles fill arrays whose sides are not powers of two: on a 320x320
// weight-stationary array, a GEMV of 3200 x 3200 (ten array sides each
// way) is cut into tiles of multiples of 320, every fold full; tiles of
// powers of two (256, 512, ...) would leave rows or columns idle.
TEST(Lowering, TilesAreMultiplesOfTheArraysSides) {
  Target t;
  t.array = {320, 320, true};
  t.array.preload_rows = 8;
  t.spm_capacity_bytes = 8u << 20;
  t.memory_bytes_per_cycle = 80000.0;
  const GemmSpec s = packed_gemm("gemv", 1, 3200, 3200);
  const GemmTiling tiling =
      choose_gemm_tiling(s, t, default_spm_layout(t.spm_capacity_bytes, t.arrays));
  EXPECT_EQ(tiling.tk % 320, 0u) << tiling.tk;
  EXPECT_EQ(tiling.tn % 320, 0u) << tiling.tn;
  EXPECT_LT(tiling.tk * tiling.tn, s.k * s.n);  // the whole weight does not fit a slot
}

TEST(Lowering, MoreBandwidthNeverMakesTheCompiledPrefillSlower) {
  // Tiling that ignored the DMA's request rate chose to re-read inputs in
  // short rows once memory looked fast: this prefill took 279 us at 1 TB/s
  // and 363 us at 2 TB/s. Now more bandwidth helps, then saturates.
  auto time_at = [](const char* gbps) {
    const System system = test::preset({std::string("memory.ideal.bandwidth_gbps=") + gbps});
    sim::WorkloadOptions w;
    w.layer = "hidden=1024,heads=8,kv_heads=8,intermediate=2816";
    w.phase = "prefill";
    w.prompt_len = 512;
    const sim::Compiled c = sim::compile_workload(system, "preset", w);
    return static_cast<double>(test::run(system, c.program).cycles());
  };
  const double one = time_at("1000"), two = time_at("2000"), four = time_at("4000");
  EXPECT_LT(two, 0.95 * one);
  EXPECT_LE(four, two * 1.001);
}

TEST(Lowering, AGemmEstimatedPast2To63CyclesIsAnError) {
  // 2^60 MACs on one 1x1 array, its input re-read from a 0.1 GB/s memory at
  // 20 GHz: an estimate of about 6e19 cycles (a float-to-integer overflow
  // when the tiling was recorded, before it was checked).
  const System system =
      test::preset({"core_clock_ghz=20", "memory.capacity_bytes=1125899906842624",
                    "memory.ideal.bandwidth_gbps=0.1", "core.scratchpad.capacity_bytes=268435456",
                    "core.array.rows=1", "core.array.cols=1", "core.array.count=1"});
  sim::WorkloadOptions w;
  w.model = test::matmul_graph("huge", 1 << 20, 1 << 20, 1 << 20);
  EXPECT_NE(test::error_of([&] {
              (void)sim::compile_workload(system, "preset", w);
            }).find("node 'huge' (M=1048576, K=1048576, N=1048576): an estimated"),
            std::string::npos);
}

TEST(Lowering, SmallestTileThatDoesNotFitIsAnError) {
  Graph g = tiny();
  place(g, {});
  Target t;
  t.spm_capacity_bytes = 2048;
  t.where = "sys.textproto";
  try {
    (void)lower(g, t);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("sys.textproto: core.scratchpad.capacity_bytes"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace npusim::compiler

namespace npusim::compiler {
namespace {

TEST(Lowering, TheTiledStageRecordsEachGemmsTiling) {
  Graph g = tiny(4, 32);
  place(g, {});
  Graph tiled;
  (void)lower(g, Target{}, &tiled);
  ASSERT_EQ(tiled.nodes_size(), g.nodes_size());
  int gemms = 0;
  for (const Node& n : tiled.nodes()) {
    const bool gemm = n.op() == MATMUL || n.op() == ATTENTION_SCORE || n.op() == ATTENTION_CONTEXT;
    EXPECT_EQ(n.attrs().count("tile.m") == 1, gemm) << n.name();
    if (!gemm) continue;
    ++gemms;
    EXPECT_GE(n.attrs().at("tile.k").i(), 1);
    EXPECT_GT(n.attrs().at("tile.estimated_cycles").i(), 0);
  }
  EXPECT_EQ(gemms, 9);  // q, k, v, o, gate, up, down, score, context
}

}  // namespace
}  // namespace npusim::compiler

namespace npusim::compiler {
namespace {

// The scheduler on a hand-made stream: four loads through a two-slot ring,
// each consumed by one matrix op whose result is stored.
TEST(ProgramBuilder, RingSlotsBecomeSemaphoresAndQueuesStayDeadlockFree) {
  SpmLayout layout;
  for (auto& r : layout.rings) r = {0, 4096, 2};
  uint64_t base = 0;
  for (auto& r : layout.rings) {
    r.base = base;
    base += r.slots * r.slot_bytes;
  }
  ProgramBuilder b("stream", layout);
  const uint32_t w = b.tensor("w", WEIGHT, 4 * 2048, 0);
  const uint32_t y = b.tensor("y", ACTIVATION, 4 * 512, 65536);
  b.set_node("mm");
  for (int i = 0; i < 4; ++i) {
    const Buffer wb = b.acquire(Ring::Weight);
    b.load(wb, w, i * 2048, 2048);
    const Buffer x = b.acquire(Ring::MatIn);
    b.load(x, w, 0, 64);
    const Buffer out = b.acquire(Ring::MatOut);
    MatrixOp op;
    op.set_m(1);
    op.set_k(32);
    op.set_n(32);
    op.set_dtype(FP16);
    b.matrix(op, {x, wb}, out);
    b.store(out, y, 65536 + i * 512, 512);
  }
  const Program p = b.finish();
  const auto& core = p.cores(0);
  EXPECT_EQ(core.matrix_size(), 4);
  EXPECT_EQ(core.dma_size(), 12);
  // Every load waits on its ring slot's BUFFER_FREE (initially 1 per slot).
  int waits_on_free = 0;
  for (const auto& ins : core.dma()) {
    for (const auto& wop : ins.wait()) {
      waits_on_free += p.semaphores(static_cast<int>(wop.sem())).kind() == BUFFER_FREE;
    }
  }
  EXPECT_EQ(waits_on_free, 8);  // every load (weight and input) takes a slot
  // Loads go before the stores they do not depend on: the first two weight
  // loads lead the queue.
  EXPECT_EQ(core.dma(0).dma().direction(), DmaOp::LOAD);
  EXPECT_EQ(core.dma(1).dma().direction(), DmaOp::LOAD);
  // And it runs to completion on the NPU.
  const Report r = test::run(test::preset(), p);
  EXPECT_EQ(r.compute().matrix_tiles(), 4u);
  EXPECT_EQ(r.traffic().written().activation(), 4u * 512);
}

// x + x: an instruction that reads one buffer twice reads it once (its
// readers are chained in order, and a reader after itself is a cycle).
TEST(ProgramBuilder, ABufferReadTwiceByOneInstructionIsReadOnce) {
  SpmLayout layout;
  uint64_t base = 0;
  for (auto& r : layout.rings) {
    r = {base, 4096, 2};
    base += r.slots * r.slot_bytes;
  }
  ProgramBuilder b("x_plus_x", layout);
  const uint32_t x = b.tensor("x", ACTIVATION, 1024, 0);
  const uint32_t y = b.tensor("y", ACTIVATION, 1024, 4096);
  b.set_node("add");
  const Buffer in = b.acquire(Ring::VecIn);
  b.load(in, x, 0, 1024);
  const Buffer out = b.acquire(Ring::VecOut);
  VectorOp op;
  op.set_kind(ADD);
  op.set_length(512);
  op.set_row_length(512);
  op.set_dtype(FP16);
  op.set_spm_in(in.spm_addr);
  op.set_spm_in2(in.spm_addr);
  op.set_spm_out(out.spm_addr);
  b.vector(op, {in, in}, out);
  b.store(out, y, 4096, 1024);
  const Program p = b.finish();
  EXPECT_EQ(p.cores(0).vector_size(), 1);
  const Report r = test::run(test::preset(), p);
  EXPECT_EQ(r.traffic().read().activation(), 1024u);
  EXPECT_EQ(r.traffic().written().activation(), 1024u);
}

}  // namespace
}  // namespace npusim::compiler

#include "compiler/lowering/gemm.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "common/dtype.h"
#include "common/error.h"
#include "common/float_cast.h"
#include "common/integer.h"

namespace npusim::compiler {

void note_tiling(const GemmSpec& s, const GemmTiling& t, LoweringContext& ctx) {
  // An estimate past 2^63 cycles (a huge GEMM on a slow machine) is past
  // any time a simulation can reach: refused here, and not left to an
  // undefined conversion.
  if (!fits_in<int64_t>(t.cost_cycles)) {
    throw UserError(
        fmt::format("{}: node '{}' (M={}, K={}, N={}): an estimated {:.3g} cycles, past the 2^63 a "
                    "simulation can count (a GEMM too large for this machine's memory and arrays)",
                    ctx.target.where, s.node, s.m, s.k, s.n, t.cost_cycles));
  }
  ctx.note("tile.m", static_cast<int64_t>(t.tm));
  ctx.note("tile.k", static_cast<int64_t>(t.tk));
  ctx.note("tile.n", static_cast<int64_t>(t.tn));
  ctx.note("tile.transposed", t.transposed);
  ctx.note("tile.a_resident", t.a_resident);
  ctx.note("tile.a_whole", t.a_whole);
  ctx.note("tile.out_whole", t.out_whole);
  ctx.note("tile.rows_outer", t.rows_outer);
  ctx.note("tile.group", static_cast<int64_t>(t.group));
  ctx.note("tile.problems", static_cast<int64_t>(t.problems));
  ctx.note("tile.accumulators_per_slot", static_cast<int64_t>(t.accumulators_per_slot));
  ctx.note("tile.estimated_cycles", static_cast<int64_t>(t.cost_cycles));
}

void lower_gemm(const GemmSpec& s, const GemmTiling& t, LoweringContext& ctx) {
  ProgramBuilder& b = ctx.builder;
  const DType ad = s.a.dtype, bd = s.b.dtype, od = s.out.dtype;
  const uint64_t mt = ceil_div(s.m, t.tm);
  const uint64_t kt = ceil_div(s.k, t.tk);
  if (t.rows_outer && t.problems != 1) {
    throw std::logic_error("GEMM tiling: A's row blocks outermost interleave no problems");
  }

  Buffer a_all{}, out_all{};
  if (t.a_whole && !s.a.on_chip) {
    a_all = b.acquire(Ring::MatIn, /*pinned=*/true);
    b.load(a_all, s.a.tensor, s.a.address, dtype_bytes(ad, s.batch * s.m * s.k));
  }
  if (t.out_whole && !s.out.on_chip) out_all = b.acquire(Ring::MatOut, /*pinned=*/true);

  // Problem p's A and output start a_base(p) and out_base(p) elements in,
  // its B at b_addr(p).
  const auto a_base = [&](uint64_t p) { return p * s.a_step(); };
  const auto out_base = [&](uint64_t p) { return p * s.out_step(); };
  const auto b_addr = [&](uint64_t p) {
    return s.b.address + dtype_bytes(bd, p / s.b_group * s.b_batch_stride);
  };
  // Problems go in groups whose K loops interleave too (GemmTiling::problems).
  for (uint64_t p0 = 0; p0 < s.batch; p0 += t.problems) {
    const uint64_t p_end = std::min(s.batch, p0 + t.problems);
    // A's resident tiles and the partial sums of a group's outputs, problem
    // by problem, row block by column.
    std::vector<Buffer> resident(t.a_resident && !t.a_whole ? (p_end - p0) * mt * kt : 0);
    std::vector<bool> loaded(resident.size(), false);
    std::vector<Buffer> outs;

    auto load_a = [&](const Buffer& buf, uint64_t p, uint64_t m0, uint64_t rows, uint64_t k0,
                      uint64_t cols) {
      b.load(buf, s.a.tensor, s.a.address + dtype_bytes(ad, a_base(p) + m0 * s.lda() + k0),
             dtype_bytes(ad, cols), rows, dtype_bytes(ad, s.lda()));
    };
    // Loads problem p's (k0, n0) tile of B into a fresh weight buffer.
    auto load_b = [&](uint64_t p, uint64_t k0, uint64_t tk, uint64_t n0, uint64_t tn) {
      const Buffer w = b.acquire(Ring::Weight);
      switch (s.b_layout) {
        case BLayout::Tiled:  // packed in the order the tiles load (weight_packing.h)
          b.load(w, s.b.tensor,
                 b_addr(p) + dtype_bytes(bd, t.packing().tile_offset(s.k, s.n, k0, n0)),
                 dtype_bytes(bd, tk * tn));
          break;
        case BLayout::KN:
          b.load(w, s.b.tensor, b_addr(p) + dtype_bytes(bd, k0 * s.n + n0), dtype_bytes(bd, tn), tk,
                 dtype_bytes(bd, s.n));
          break;
        case BLayout::NK:
          b.load(w, s.b.tensor, b_addr(p) + dtype_bytes(bd, n0 * s.k + k0), dtype_bytes(bd, tk), tn,
                 dtype_bytes(bd, s.k));
          break;
      }
      const auto& q = s.b_scales;
      if (q && (!q->per_column() || k0 + tk == s.k)) {  // the tile's scale rows, after it
        const uint64_t first = k0 / q->group, rows = (k0 + tk - 1) / q->group - first + 1;
        b.load(w.at(dtype_bytes(bd, tk * tn)), q->tensor,
               q->address + dtype_bytes(q->dtype, first * s.n + n0), dtype_bytes(q->dtype, tn),
               rows, dtype_bytes(q->dtype, s.n));
      }
      return w;
    };
    // One tile on the arrays: out (+)= a x w, with a's rows `lda` elements
    // apart and out's `ldo`. The partial sums of a K loop are fp32; its last
    // tile writes `last_dtype`. Transposed, the arrays compute
    // out^T = w^T a^T: the same data, each operand read the other way.
    // With `acc`, the partial sums are read from there (a tile buffer of
    // their own) instead of out.
    // A quantised weight tile's K rows start at k0 (for its scales).
    auto multiply = [&](uint64_t k0, const Buffer& a, uint64_t lda, const Buffer& w,
                        const Buffer& out, uint64_t ldo, uint64_t tm, uint64_t tk, uint64_t tn,
                        bool accumulate, bool last,
                        const std::optional<Buffer>& acc = std::nullopt) {
      const bool nk = s.b_layout == BLayout::NK;  // w holds tn rows of tk
      MatrixOp op;
      if (t.transposed) {
        op = matrix_tile(tn, tk, tm, bd, ad, ctx.target.dataflow, w, a, out);
        op.set_a_col_major(!nk);
        op.set_lda(nk ? tk : tn);
        op.set_b_col_major(true);
        op.set_ldb(lda);
        op.set_out_col_major(true);
      } else {
        op = matrix_tile(tm, tk, tn, ad, bd, ctx.target.dataflow, a, w, out);
        op.set_lda(lda);
        op.set_b_col_major(nk);
        op.set_ldb(nk ? tk : tn);
      }
      op.set_ldo(ldo);
      const auto& q = s.b_scales;
      if (q && q->per_column() && last) {
        op.set_spm_out_scale(w.at(dtype_bytes(bd, tk * tn)).spm_addr);
        op.set_out_scale_dtype(q->dtype);
        op.set_out_scale_rows(t.transposed);
      } else if (q && !q->per_column()) {
        op.set_spm_w_scale(w.at(dtype_bytes(bd, tk * tn)).spm_addr);
        op.set_w_scale_group(static_cast<uint32_t>(q->group));
        op.set_w_scale_first(static_cast<uint32_t>(k0 % q->group));
        op.set_w_scale_ld(static_cast<uint32_t>(tn));
        op.set_w_scale_dtype(q->dtype);
        op.set_w_scale_a(t.transposed);
      }
      op.set_out_dtype(last ? od : FP32);
      op.set_accumulate(accumulate);
      if (acc) {
        op.set_spm_acc(acc->spm_addr);
        b.matrix(op, {a, w, *acc}, out);
      } else {
        b.matrix(op, {a, w}, out);
      }
    };
    auto store_out = [&](const Buffer& out, uint64_t p, uint64_t m0, uint64_t tm, uint64_t n0,
                         uint64_t tn) {
      b.store(out, s.out.tensor, s.out.address + dtype_bytes(od, out_base(p) + m0 * s.ldo() + n0),
              dtype_bytes(od, tn), tm, dtype_bytes(od, s.ldo()));
    };

    // Column blocks go in groups whose K loops interleave (GemmTiling::group).
    const uint64_t group_cols = t.group * t.tn;
    // A group's partial sums, as many to an output slot as it holds
    // (GemmTiling::accumulators_per_slot), the slots held for the group.
    std::vector<Buffer> acc_slots;
    auto accumulators = [&](uint64_t count) {
      std::vector<Buffer> accs;
      const uint64_t stride = acc_stride(t.tm, t.tn);
      for (uint64_t i = 0; i < count; ++i) {
        if (i % t.accumulators_per_slot == 0) {
          acc_slots.push_back(b.acquire(Ring::MatOut, /*pinned=*/true));
        }
        accs.push_back(acc_slots.back().at(i % t.accumulators_per_slot * stride));
      }
      return accs;
    };
    auto release_accumulators = [&] {
      for (const Buffer& slot : acc_slots) b.unpin(slot);
      acc_slots.clear();
    };
    if (t.rows_outer) {
      // Each row block of A stays resident while every column block of B
      // streams past it (one problem: t.problems is 1).
      const uint64_t p = p0;
      for (uint64_t m0 = 0; m0 < s.m; m0 += t.tm) {
        const uint64_t tm = std::min(t.tm, s.m - m0);
        std::vector<Buffer> row;
        for (uint64_t k0 = 0; k0 < s.k; k0 += t.tk) {
          row.push_back(b.acquire(Ring::MatIn, /*pinned=*/true));
          load_a(row.back(), p, m0, tm, k0, std::min(t.tk, s.k - k0));
        }
        for (uint64_t g0 = 0; g0 < s.n; g0 += group_cols) {
          const uint64_t g_end = std::min(s.n, g0 + group_cols);
          const std::vector<Buffer> group_outs = accumulators(ceil_div(g_end - g0, t.tn));
          for (uint64_t k0 = 0; k0 < s.k; k0 += t.tk) {
            const uint64_t tk = std::min(t.tk, s.k - k0);
            for (uint64_t n0 = g0; n0 < g_end; n0 += t.tn) {
              const uint64_t tn = std::min(t.tn, s.n - n0);
              multiply(k0, row[k0 / t.tk], tk, load_b(p, k0, tk, n0, tn),
                       group_outs[(n0 - g0) / t.tn], tn, tm, tk, tn, k0 != 0, k0 + tk == s.k);
            }
          }
          for (uint64_t n0 = g0; n0 < g_end; n0 += t.tn) {
            store_out(group_outs[(n0 - g0) / t.tn], p, m0, tm, n0, std::min(t.tn, s.n - n0));
          }
          release_accumulators();
        }
        for (const Buffer& r : row) b.unpin(r);
      }
      continue;
    }

    for (uint64_t g0 = 0; g0 < s.n; g0 += group_cols) {
      const uint64_t g_end = std::min(s.n, g0 + group_cols);
      const uint64_t cols = ceil_div(g_end - g0, t.tn);
      // Partial sums: over a K loop, a tile buffer each (kt = 1 writes the
      // output directly, or a slot per tile to store from).
      const uint64_t count = (p_end - p0) * mt * cols;
      outs = kt > 1 ? accumulators(count) : std::vector<Buffer>(count);
      for (uint64_t k0 = 0; k0 < s.k; k0 += t.tk) {
        const uint64_t tk = std::min(t.tk, s.k - k0);
        const bool last = k0 + tk == s.k;
        for (uint64_t p = p0; p < p_end; ++p) {
          std::vector<Buffer> ws;
          for (uint64_t n0 = g0; n0 < g_end; n0 += t.tn) {
            ws.push_back(load_b(p, k0, tk, n0, std::min(t.tn, s.n - n0)));
          }
          for (uint64_t m0 = 0; m0 < s.m; m0 += t.tm) {
            const uint64_t tm = std::min(t.tm, s.m - m0);
            const uint64_t mi = (p - p0) * mt + m0 / t.tm;
            Buffer a{};
            uint64_t lda = tk;  // a tile of its own
            if (s.a.on_chip) {
              a = s.a.on_chip->at(a_base(p) + m0 * s.lda() + k0);  // the tile, where it lies
              lda = s.lda();
            } else if (t.a_whole) {
              a = a_all.at(dtype_bytes(ad, a_base(p) + m0 * s.k + k0));  // the tile inside A
              lda = s.k;
            } else if (t.a_resident) {
              const size_t slot = mi * kt + k0 / t.tk;
              if (!loaded[slot]) {
                resident[slot] = b.acquire(Ring::MatIn, /*pinned=*/true);
                load_a(resident[slot], p, m0, tm, k0, tk);
                loaded[slot] = true;
              }
              a = resident[slot];
            } else {
              a = b.acquire(Ring::MatIn);
              load_a(a, p, m0, tm, k0, tk);
            }
            for (uint64_t n0 = g0; n0 < g_end; n0 += t.tn) {
              const uint64_t tn = std::min(t.tn, s.n - n0);
              const Buffer& w = ws[(n0 - g0) / t.tn];
              Buffer& acc = outs[mi * cols + (n0 - g0) / t.tn];
              // The whole output (on chip, or stored at the end) holds the
              // results as `od`, where the tensor has them. Over a K loop the
              // tile's fp32 partial sums are summed in a tile buffer of their
              // own: in the whole output they would overlap finished tiles.
              if (s.out.on_chip || t.out_whole) {
                if (kt > 1 && !last) {
                  multiply(k0, a, lda, w, acc, tn, tm, tk, tn, k0 != 0, false);
                  continue;
                }
                Buffer out{};
                uint64_t ldo = 0;
                if (s.out.on_chip) {
                  out = s.out.on_chip->at(out_base(p) + m0 * s.ldo() + n0);
                  ldo = s.ldo();
                } else {
                  out = out_all.at(dtype_bytes(od, out_base(p) + m0 * s.n + n0));
                  ldo = s.n;
                }
                if (kt > 1) {
                  multiply(k0, a, lda, w, out, ldo, tm, tk, tn, true, true, acc);
                } else {
                  multiply(k0, a, lda, w, out, ldo, tm, tk, tn, false, true);
                }
                continue;
              }
              if (kt == 1) acc = b.acquire(Ring::MatOut);
              multiply(k0, a, lda, w, acc, tn, tm, tk, tn, k0 != 0, last);
              if (last) store_out(acc, p, m0, tm, n0, tn);
            }
          }
        }
      }
      release_accumulators();
    }
    for (const Buffer& r : resident) b.unpin(r);
  }
  if (t.a_whole && !s.a.on_chip) b.unpin(a_all);
  if (t.out_whole && !s.out.on_chip) {
    b.unpin(out_all);
    b.store(out_all, s.out.tensor, s.out.address, dtype_bytes(od, s.batch * s.m * s.n));
  }
}

MatrixOp matrix_tile(uint64_t m, uint64_t k, uint64_t n, DType a_dtype, DType b_dtype,
                     Dataflow dataflow, const Buffer& a, const Buffer& b, const Buffer& out) {
  MatrixOp op;
  op.set_m(static_cast<uint32_t>(m));
  op.set_k(static_cast<uint32_t>(k));
  op.set_n(static_cast<uint32_t>(n));
  op.set_dataflow(dataflow);
  op.set_dtype(b_dtype);
  if (a_dtype != b_dtype) op.set_a_dtype(a_dtype);
  op.set_spm_a(a.spm_addr);
  op.set_spm_b(b.spm_addr);
  op.set_spm_out(out.spm_addr);
  return op;
}

}  // namespace npusim::compiler

// Row-wise and elementwise ops on the vector unit. The input is viewed as
// rows of its last dimension; tiles of rows (elementwise ops may split a
// row) stream through the vector rings (load, compute, store). Parameter vectors (a norm's gain and
// bias, a bias) are loaded once per op.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "arch/vector_costs.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/vector_math.h"
#include "compiler/lowering/lowering.h"

namespace npusim::compiler {
namespace {

struct VectorSpec {
  VectorKind kind;
  int data_inputs;  // activations read (1 or 2)
  int params;       // then parameter vectors of the row length (gain, bias), loaded once
  bool row_wise;    // needs whole rows (norms, softmax)
  const char* row_attr = nullptr;  // node attribute with the row length, if not the last dim
};

// A transposing COPY (R rows of C blocks of `row` -> [C][R][row]) whose
// group does not fit a vector slot: r rows at a time, each r rows leaving
// the vector unit as C runs of r x row elements, stored R x row apart.
void lower_strided_transpose(const Node& node, LoweringContext& ctx, uint64_t rows_r,
                             uint64_t group, uint64_t row, uint64_t slot) {
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  const std::string where = "node '" + node.name() + "'";
  require(!ctx.on_chip_output(y), "graph", where,
          "a transpose larger than a vector slot cannot leave its output on chip");
  const DType dt = x.dtype();
  const uint64_t per_row = group / rows_r;  // C blocks of `row`
  const uint64_t r_max = slot / dtype_bytes(dt, per_row);
  require(r_max >= 1, ctx.target.where, "core.scratchpad.capacity_bytes",
          fmt::format("{} bytes is too small for node '{}': one row of its transpose needs {} "
                      "bytes in a vector slot",
                      slot, node.name(), dtype_bytes(dt, per_row)));
  ProgramBuilder& b = ctx.builder;
  const uint32_t xt = ctx.tensor(x), yt = ctx.tensor(y);
  for (uint64_t g0 = 0; g0 < num_elements(x); g0 += group) {
    for (uint64_t r0 = 0; r0 < rows_r; r0 += r_max) {
      const uint64_t r = std::min(r_max, rows_r - r0), n = r * per_row;
      const Buffer in = b.acquire(Ring::VecIn);
      b.load(in, xt, x.address() + dtype_bytes(dt, g0 + r0 * per_row), dtype_bytes(dt, n));
      const Buffer out = b.acquire(Ring::VecOut);
      VectorOp op;
      op.set_kind(COPY);
      op.set_length(n);
      op.set_row_length(row);
      op.set_dtype(dt);
      op.set_spm_in(in.spm_addr);
      op.set_spm_out(out.spm_addr);
      op.set_transpose_rows(r);
      b.vector(op, {in}, out);
      b.store(out, yt, y.address() + dtype_bytes(dt, g0 + r0 * row), dtype_bytes(dt, r * row),
              per_row / row, dtype_bytes(dt, rows_r * row));
    }
  }
}

void lower_vector(const Node& node, LoweringContext& ctx, const VectorSpec& v) {
  const std::string where = "node '" + node.name() + "'";
  const int inputs = v.data_inputs + v.params;
  require(node.inputs_size() == inputs && node.outputs_size() == 1, "graph", where,
          fmt::format("{} takes {} inputs and gives one output", OpType_Name(node.op()), inputs));
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& y = ctx.tensors.at(node.outputs(0), node.name());
  require(x.shape_size() >= 1, "graph", where, "the input needs a shape");
  require(dtype_bits(x.dtype()) > 0, "graph", where, "the input '" + x.name() + "' needs a dtype");
  uint64_t row = last_dim(x);
  if (v.row_attr != nullptr) row = static_cast<uint64_t>(attr_int(node, v.row_attr, row));
  const uint64_t elements = num_elements(x);
  require(row > 0 && elements % row == 0, "graph", where, "rows must divide the input");
  const Tensor* x2 = v.data_inputs == 2 ? &ctx.tensors.at(node.inputs(1), node.name()) : nullptr;
  if (x2 != nullptr) {
    require(num_elements(*x2) == elements, "graph", where, "inputs differ in size");
  }
  // One output element per row (the vector unit's cost table says which kinds).
  const arch::VectorCost* cost = arch::vector_cost(v.kind);
  const bool reduces = cost != nullptr && cost->reduces_rows;
  const DType dt = x.dtype();
  ProgramBuilder& b = ctx.builder;
  const uint64_t slot =
      std::min(b.layout()[Ring::VecIn].slot_bytes, b.layout()[Ring::VecOut].slot_bytes);
  // Elementwise ops may split a row that does not fit; row-wise ops, and
  // ops with a parameter row, may not.
  uint64_t chunk = elements;
  if (dtype_bytes(dt, row) <= slot) {
    chunk = std::min(elements, slot * 8 / dtype_bits(dt) / row * row);
  } else {
    require(
        !v.row_wise && v.params == 0, ctx.target.where, "core.scratchpad.capacity_bytes",
        fmt::format("{} bytes is too small for node '{}': one row of {} elements needs {} "
                    "bytes in a vector slot of {}",
                    ctx.target.spm_capacity_bytes, node.name(), row, dtype_bytes(dt, row), slot));
    chunk = slot * 8 / dtype_bits(dt);
    require(chunk > 0, ctx.target.where, "core.scratchpad.capacity_bytes", "no vector slot");
  }
  // A COPY that transposes (attrs.transpose_rows R): one group of R rows of
  // C blocks (attrs.transpose_group elements) per operation.
  const auto transpose_rows = static_cast<uint64_t>(attr_int(node, "transpose_rows", 0));
  if (v.kind == COPY && transpose_rows != 0) {
    const auto group = static_cast<uint64_t>(attr_int(node, "transpose_group", 0));
    require(group > 0 && elements % group == 0 && group % (transpose_rows * row) == 0, "graph",
            where + ".attrs.transpose_group",
            fmt::format("{} must divide the input's {} elements into groups of {} rows of row "
                        "length {}",
                        group, elements, transpose_rows, row));
    if (dtype_bytes(dt, group) > slot) {
      lower_strided_transpose(node, ctx, transpose_rows, group, row, slot);
      return;
    }
    chunk = group;
  }
  const uint32_t xt = ctx.tensor(x), yt = ctx.tensor(y);
  const uint32_t x2t = x2 != nullptr ? ctx.tensor(*x2) : 0;
  std::vector<Buffer> params;
  for (int i = v.data_inputs; i < inputs; ++i) {
    const Tensor& g = ctx.tensors.at(node.inputs(i), node.name());
    require(num_elements(g) == row, "graph", where,
            fmt::format("parameter '{}' must have the row length {}", g.name(), row));
    params.push_back(b.acquire(Ring::VecIn, /*pinned=*/true));
    b.load(params.back(), ctx.tensor(g), g.address(), g.size_bytes());
  }
  // Activations forwarded on chip are read, or left, where they are.
  const std::optional<OnChipTensor> x_on_chip = ctx.on_chip_input(x);
  const std::optional<OnChipTensor> x2_on_chip =
      x2 != nullptr ? ctx.on_chip_input(*x2) : std::nullopt;
  const std::optional<OnChipTensor> y_on_chip = ctx.on_chip_output(y);
  // x + x reads its one operand once.
  const bool two = x2 != nullptr && node.inputs(1) != node.inputs(0);
  auto input = [&](const std::optional<OnChipTensor>& on_chip, uint32_t tensor, const Tensor& from,
                   uint64_t e0, uint64_t n) {
    if (on_chip) return on_chip->at(e0);
    const Buffer in = b.acquire(Ring::VecIn);
    b.load(in, tensor, from.address() + dtype_bytes(dt, e0), dtype_bytes(dt, n));
    return in;
  };
  for (uint64_t e0 = 0; e0 < elements; e0 += chunk) {
    const uint64_t n = std::min(chunk, elements - e0);
    const Buffer in = input(x_on_chip, xt, x, e0, n);
    const Buffer in2 = two ? input(x2_on_chip, x2t, *x2, e0, n) : in;
    const uint64_t out_first = reduces ? e0 / row : e0;
    const uint64_t out_count = reduces ? std::max<uint64_t>(1, n / row) : n;
    const Buffer out = y_on_chip ? y_on_chip->at(out_first) : b.acquire(Ring::VecOut);
    VectorOp op;
    // GELU_OP with attrs.approximate "tanh": GPT-2's gelu_new.
    op.set_kind(node.op() == GELU_OP && node.attrs().count("approximate") != 0 &&
                        node.attrs().at("approximate").s() == "tanh"
                    ? GELU_TANH
                    : v.kind);
    op.set_length(n);
    op.set_row_length(std::min(row, n));
    op.set_dtype(dt);
    op.set_spm_in(in.spm_addr);
    op.set_spm_in2(x2 != nullptr ? in2.spm_addr : (!params.empty() ? params[0].spm_addr : 0));
    if (params.size() > 1) op.set_spm_in3(params[1].spm_addr);  // a LayerNorm's bias
    op.set_constant_in2(x2 == nullptr && params.empty() && is_binary(v.kind));
    if (op.constant_in2() &&
        node.attrs().count("scalar") != 0) {  // its value, when the graph has it
      op.set_scalar(static_cast<float>(attr_real(node, "scalar", 0)));
      op.set_scalar_first(attr_int(node, "scalar_first", 0) != 0);
    }
    // A parameter to a binary kind is one row, added to every row (a bias).
    op.set_broadcast_in2(x2 == nullptr && !params.empty() && !reduces && v.kind != RMSNORM &&
                         v.kind != LAYERNORM);
    if (v.kind == COPY && transpose_rows != 0) op.set_transpose_rows(transpose_rows);
    if (v.kind == RMSNORM || v.kind == LAYERNORM) op.set_eps(static_cast<float>(norm_eps(node)));
    if (v.kind == SOFTMAX) {
      op.set_scale(static_cast<float>(attr_real(node, "scale", 1)));
      if (attr_int(node, "causal", 0) != 0) {
        op.set_causal_tokens(static_cast<uint64_t>(attr_int(node, "tokens", 1)));
        op.set_first_row(e0 / row);
      }
    }
    if (v.kind == ROPE) {
      op.set_rope_theta(static_cast<float>(attr_real(node, "theta", 10000)));
      op.set_rope_position(static_cast<uint64_t>(attr_int(node, "position", 0)));
      op.set_rope_tokens(static_cast<uint64_t>(attr_int(node, "tokens", 1)));
      op.set_rope_rows_per_token(last_dim(x) / row);
      op.set_first_row(e0 / row);
    }
    op.set_spm_out(out.spm_addr);
    std::vector<Buffer> reads{in};
    if (two) reads.push_back(in2);
    reads.insert(reads.end(), params.begin(), params.end());
    b.vector(op, reads, out);
    if (y_on_chip) continue;
    b.store(out, yt, y.address() + dtype_bytes(y.dtype(), out_first),
            dtype_bytes(y.dtype(), out_count));
  }
  for (const Buffer& param : params) b.unpin(param);
}

// ELEMENTWISE: the op's `kind` attribute names the vector operation; a
// second input of the first's size is read alongside it, one of the row's
// length is a parameter loaded once (a bias), and none means a scalar
// constant folded into the operation.
void lower_elementwise(const Node& node, LoweringContext& ctx) {
  const std::string where = "node '" + node.name() + "'";
  auto it = node.attrs().find("kind");
  VectorKind kind = VECTOR_KIND_UNSPECIFIED;
  require(it != node.attrs().end() && VectorKind_Parse(it->second.s(), &kind), "graph",
          where + ".attrs.kind", "must name a vector operation");
  require(node.inputs_size() == 1 || node.inputs_size() == 2, "graph", where,
          "ELEMENTWISE takes one or two inputs");
  if (node.inputs_size() == 1) {
    lower_vector(node, ctx, VectorSpec{kind, 1, 0, false});
    return;
  }
  const Tensor& x = ctx.tensors.at(node.inputs(0), node.name());
  const Tensor& y = ctx.tensors.at(node.inputs(1), node.name());
  const bool same = num_elements(y) == num_elements(x);
  lower_vector(node, ctx, VectorSpec{kind, same ? 2 : 1, same ? 0 : 1, false});
}

// A vector op reads its activations (not its parameters) from, and leaves
// its output in, the scratchpad when they are forwarded.
OnChipOperands on_chip_operands(const VectorSpec& v) {
  return {VECTOR, v.data_inputs == 2 ? 3u : 1u, true};
}

#define NPUSIM_VECTOR_LOWERING(OP, ...)                                                           \
  NPUSIM_REGISTER_LOWERING_ON_CHIP(                                                               \
      OP, [](const Node& n, LoweringContext& c) { lower_vector(n, c, VectorSpec{__VA_ARGS__}); }, \
      on_chip_operands(VectorSpec{__VA_ARGS__}))

NPUSIM_VECTOR_LOWERING(RMS_NORM, RMSNORM, 1, 1, true);
NPUSIM_VECTOR_LOWERING(LAYER_NORM, LAYERNORM, 1, 2, true);
NPUSIM_VECTOR_LOWERING(SOFTMAX_OP, SOFTMAX, 1, 0, true);
NPUSIM_VECTOR_LOWERING(ROTARY, ROPE, 1, 0, false, "head_dim");
NPUSIM_VECTOR_LOWERING(ADD_OP, ADD, 2, 0, false);
NPUSIM_VECTOR_LOWERING(MUL_OP, MUL, 2, 0, false);
NPUSIM_VECTOR_LOWERING(BIAS_ADD, ADD, 1, 1, false);
NPUSIM_VECTOR_LOWERING(SILU_OP, SILU, 1, 0, false);
NPUSIM_VECTOR_LOWERING(GELU_OP, GELU, 1, 0, false);
NPUSIM_VECTOR_LOWERING(RELU_OP, RELU, 1, 0, false);
NPUSIM_VECTOR_LOWERING(SWIGLU_OP, SWIGLU, 2, 0, false);
NPUSIM_VECTOR_LOWERING(REDUCE_MEAN_OP, REDUCE_MEAN, 1, 0, true);
// Its second input may be a parameter: only the first is taken on chip.
NPUSIM_REGISTER_LOWERING_ON_CHIP(ELEMENTWISE, lower_elementwise, (OnChipOperands{VECTOR, 1, true}));

}  // namespace
}  // namespace npusim::compiler

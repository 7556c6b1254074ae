#include "arch/functional.h"

#include <fmt/format.h>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "arch/vector_costs.h"
#include "common/dtype.h"
#include "common/elements.h"
#include "common/error.h"
#include "common/vector_math.h"

namespace npusim::arch {

MemoryImage::MemoryImage(const MemoryImage& other) {
  for (const auto& [page, bytes] : other.pages_) {
    auto copy = std::make_unique<uint8_t[]>(kPageBytes);
    std::memcpy(copy.get(), bytes.get(), kPageBytes);
    pages_.emplace(page, std::move(copy));
  }
}

void MemoryImage::read(uint64_t address, uint8_t* out, uint64_t bytes) const {
  while (bytes > 0) {
    const uint64_t page = address / kPageBytes, offset = address % kPageBytes;
    const uint64_t n = std::min(bytes, kPageBytes - offset);
    auto it = pages_.find(page);
    if (it == pages_.end()) {
      std::memset(out, 0, n);
    } else {
      std::memcpy(out, it->second.get() + offset, n);
    }
    address += n;
    out += n;
    bytes -= n;
  }
}

void MemoryImage::write(uint64_t address, const uint8_t* in, uint64_t bytes) {
  while (bytes > 0) {
    const uint64_t page = address / kPageBytes, offset = address % kPageBytes;
    const uint64_t n = std::min(bytes, kPageBytes - offset);
    std::unique_ptr<uint8_t[]>& p = pages_[page];
    if (!p) {  // a new page: zero what this write does not cover
      p.reset(new uint8_t[kPageBytes]);
      std::memset(p.get(), 0, offset);
      std::memset(p.get() + offset + n, 0, kPageBytes - offset - n);
    }
    std::memcpy(p.get() + offset, in, n);
    address += n;
    in += n;
    bytes -= n;
  }
}

FunctionalCore::FunctionalCore(MemoryImage& memory, uint64_t spm_bytes, std::string where,
                               const Program* program)
    : memory_(memory), spm_(spm_bytes, 0), where_(std::move(where)), program_(program) {}

void FunctionalCore::issue(Queue queue, const Instruction& ins) {
  commit(queue, nullptr);  // program order within the queue
  try {
    switch (ins.op_case()) {
      case Instruction::kDma:
        pending_[queue].push_back(dma(ins));
        break;
      case Instruction::kMatrix:
        pending_[queue].push_back(matrix(ins));
        break;
      case Instruction::kVector:
        pending_[queue].push_back(vector(ins));
        break;
      case Instruction::kPim:
        pending_[queue].push_back(pim(ins));
        break;
      case Instruction::kSend:
        pending_[queue].push_back(send(ins));
        break;
      default:
        break;
    }
  } catch (const UserError& e) {
    if (program_ == nullptr || ins.node() >= static_cast<uint32_t>(program_->nodes_size())) throw;
    throw UserError(
        fmt::format("{} (node '{}')", e.what(), program_->nodes(static_cast<int>(ins.node()))));
  }
}

void FunctionalCore::retire(Queue queue, const Instruction& ins) {
  commit(queue, &ins);
}

void FunctionalCore::finish() {
  for (size_t q = 0; q < pending_.size(); ++q) commit(static_cast<Queue>(q), nullptr);
}

void FunctionalCore::commit(Queue queue, const Instruction* up_to) {
  std::deque<Effect>& fifo = pending_[queue];
  if (up_to != nullptr && std::none_of(fifo.begin(), fifo.end(),
                                       [&](const Effect& e) { return e.instruction == up_to; })) {
    return;  // already visible
  }
  while (!fifo.empty()) {
    Effect e = std::move(fifo.front());
    fifo.pop_front();
    if (const DmaOp* op = e.load) {
      for (uint64_t r = 0; r < std::max<uint64_t>(op->rows(), 1); ++r) {
        memory_.read(op->dram_addr() + r * op->dram_stride(),
                     spm_.data() + op->spm_addr() + r * op->row_bytes(), op->row_bytes());
      }
    }
    for (const Write& w : e.writes) {
      if (w.memory) {
        memory_.write(w.address, w.bytes.data(), w.bytes.size());
      } else if (w.into != nullptr) {
        std::memcpy(w.into->spm_.data() + w.address, w.bytes.data(), w.bytes.size());
      } else {
        std::memcpy(spm_.data() + w.address, w.bytes.data(), w.bytes.size());
      }
    }
    if (e.instruction == up_to) return;
  }
}

void FunctionalCore::spm_range(const char* field, uint64_t address, uint64_t bytes) const {
  if (address > spm_.size() || bytes > spm_.size() - address) {
    throw UserError(fmt::format("{}: {} = {} with {} bytes is outside the {}-byte scratchpad",
                                where_, field, address, bytes, spm_.size()));
  }
}

// The bytes are read at issue and land in the destination's scratchpad
// when the send retires (then its signals, which the destination waits for).
FunctionalCore::Effect FunctionalCore::send(const Instruction& ins) const {
  const SendOp& op = ins.send();
  spm_range("send.spm_addr", op.spm_addr(), op.bytes());
  if (op.dest_core() >= peers_.size() || peers_[op.dest_core()] == nullptr) {
    throw UserError(
        fmt::format("{}: send.dest_core: {} is not a core of this system", where_, op.dest_core()));
  }
  FunctionalCore* to = peers_[op.dest_core()];
  to->spm_range("send.dest_spm_addr", op.dest_spm_addr(), op.bytes());
  Effect e{&ins, {}};
  const auto* from = spm_.data() + op.spm_addr();
  e.writes.push_back(
      {false, op.dest_spm_addr(), std::vector<uint8_t>(from, from + op.bytes()), to});
  return e;
}

FunctionalCore::Effect FunctionalCore::dma(const Instruction& ins) const {
  const DmaOp& op = ins.dma();
  const uint64_t rows = std::max<uint64_t>(op.rows(), 1);
  const uint64_t total = rows * op.row_bytes();  // bounded by the program check
  spm_range("dma.spm_addr", op.spm_addr(), total);
  Effect e{&ins, {}};
  if (op.direction() == DmaOp::LOAD) {
    e.load = &op;
  } else {
    for (uint64_t r = 0; r < rows; ++r) {
      const uint8_t* from = spm_.data() + op.spm_addr() + r * op.row_bytes();
      e.writes.push_back(
          {true, op.dram_addr() + r * op.dram_stride(), {from, from + op.row_bytes()}});
    }
  }
  return e;
}

std::vector<float> FunctionalCore::read_spm(const char* field, uint64_t address, DType dtype,
                                            uint64_t count) const {
  require_functional_dtype(dtype, where_ + ": " + field);
  spm_range(field, address, dtype_bytes(dtype, count));
  std::vector<float> v(count);
  decode_elements(dtype, spm_.data() + address, count, v.data());
  return v;
}

std::vector<float> FunctionalCore::read_matrix(const char* field, uint64_t address, DType dtype,
                                               uint64_t rows, uint64_t cols, uint64_t ld,
                                               bool col_major) const {
  // Stored as `outer` lines of `inner` elements, `ld` apart.
  const uint64_t outer = col_major ? cols : rows, inner = col_major ? rows : cols;
  if (ld == 0) ld = inner;
  if (ld < inner) {
    throw UserError(
        fmt::format("{}: {}: a leading dimension of {} is less than the {} elements "
                    "of a line",
                    where_, field, ld, inner));
  }
  const uint64_t span = outer == 0 ? 0 : (outer - 1) * ld + inner;
  if (!col_major && ld == cols) return read_spm(field, address, dtype, span);  // as stored
  const std::vector<float> flat = read_spm(field, address, dtype, span);
  std::vector<float> m(rows * cols);  // row-major
  for (uint64_t i = 0; i < rows; ++i) {
    for (uint64_t j = 0; j < cols; ++j) {
      m[i * cols + j] = flat[col_major ? j * ld + i : i * ld + j];
    }
  }
  return m;
}

// The weight operand times its scales: (k, n) by scale[(first + k) / group][n].
void FunctionalCore::dequantise(const MatrixOp& op, std::vector<float>& w) const {
  const bool a = op.w_scale_a();
  const uint64_t rows = a ? op.m() : op.k(), cols = a ? op.k() : op.n();  // as read
  const uint64_t k_count = a ? cols : rows, n_count = a ? rows : cols;
  const uint64_t groups = (op.w_scale_first() + k_count - 1) / op.w_scale_group() + 1;
  const uint64_t ld = op.w_scale_ld() == 0 ? n_count : op.w_scale_ld();
  if (ld < n_count) {
    throw UserError(fmt::format("{}: matrix.w_scale_ld: {} is less than the weight's {} columns",
                                where_, ld, n_count));
  }
  const std::vector<float> scale = read_spm("matrix.spm_w_scale", op.spm_w_scale(),
                                            op.w_scale_dtype(), (groups - 1) * ld + n_count);
  for (uint64_t i = 0; i < rows; ++i) {
    for (uint64_t j = 0; j < cols; ++j) {
      const uint64_t kk = a ? j : i, nn = a ? i : j;
      w[i * cols + j] *= scale[(op.w_scale_first() + kk) / op.w_scale_group() * ld + nn];
    }
  }
}

FunctionalCore::Effect FunctionalCore::matrix(const Instruction& ins) const {
  const MatrixOp& op = ins.matrix();
  const uint64_t m = op.m(), k = op.k(), n = op.n();
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<float> a =
      read_matrix("matrix.spm_a", op.spm_a(), a_dtype(op), m, k, op.lda(), op.a_col_major());
  std::vector<float> b =
      read_matrix("matrix.spm_b", op.spm_b(), op.dtype(), k, n, op.ldb(), op.b_col_major());
  if (op.w_scale_group() != 0) dequantise(op, op.w_scale_a() ? a : b);
  Mat out =
      Eigen::Map<const Mat>(a.data(), static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(k)) *
      Eigen::Map<const Mat>(b.data(), static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(n));
  if (op.accumulate()) {
    const bool acc = op.has_spm_acc();
    const std::vector<float> partial =
        read_matrix(acc ? "matrix.spm_acc" : "matrix.spm_out", acc ? op.spm_acc() : op.spm_out(),
                    FP32, m, n, acc ? 0 : op.ldo(), op.out_col_major());
    out += Eigen::Map<const Mat>(partial.data(), static_cast<Eigen::Index>(m),
                                 static_cast<Eigen::Index>(n));
  }
  if (op.has_spm_out_scale()) {  // per-column dequantisation of the sums
    const auto count = op.out_scale_rows() ? out.rows() : out.cols();
    const std::vector<float> s = read_spm("matrix.spm_out_scale", op.spm_out_scale(),
                                          op.out_scale_dtype(), static_cast<uint64_t>(count));
    const Eigen::Map<const Eigen::VectorXf> v(s.data(), count);
    if (op.out_scale_rows()) {
      out = v.asDiagonal() * out;
    } else {
      out = out * v.asDiagonal();
    }
  }
  const DType od = op.out_dtype() == DTYPE_UNSPECIFIED ? FP32 : op.out_dtype();
  require_functional_dtype(od, where_ + ": matrix.out_dtype");
  const uint64_t outer = op.out_col_major() ? n : m, inner = op.out_col_major() ? m : n;
  const uint64_t ld = op.ldo() == 0 ? inner : op.ldo();
  if (ld < inner) {
    throw UserError(fmt::format("{}: matrix.ldo: {} is less than the {} elements of a line", where_,
                                ld, inner));
  }
  // Whole lines are written; the gaps between them (ld > inner) keep what
  // they hold.
  Effect e{&ins, {}};
  std::vector<float> line(inner);
  for (uint64_t o = 0; o < outer; ++o) {
    for (uint64_t i = 0; i < inner; ++i) {
      line[i] = op.out_col_major()
                    ? out(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(o))
                    : out(static_cast<Eigen::Index>(o), static_cast<Eigen::Index>(i));
    }
    const uint64_t first = o * ld;  // element index from spm_out
    // Lines start on whole bytes (INT4 with odd ld does not).
    if (dtype_bits(od) < 8 && first % 2 != 0) {
      throw UserError(fmt::format("{}: matrix.ldo: INT4 lines must start on whole bytes", where_));
    }
    e.writes.push_back(
        spm_write("matrix.spm_out", op.spm_out() + dtype_bytes(od, first), od, line));
  }
  return e;
}

// The weights are read logically (isa.proto PimOp): the PIM layout shapes
// only the timing and the region's size.
FunctionalCore::Effect FunctionalCore::pim(const Instruction& ins) const {
  const PimOp& op = ins.pim();
  const uint64_t v = op.vectors(), k = op.in_cols(), m = op.out_rows();
  const DType dt = op.dtype();
  if (program_ == nullptr || op.tensor() >= static_cast<uint32_t>(program_->tensors_size())) {
    throw UserError(
        fmt::format("{}: pim.tensor: {} names no tensor of the program", where_, op.tensor()));
  }
  // Block `block` of the stored matrices, as W[k][m].
  const uint64_t base = program_->tensors(static_cast<int>(op.tensor())).dram_addr() +
                        dtype_bytes(dt, uint64_t{op.block()} * k * m);
  const std::vector<float> x = read_spm("pim.spm_in", op.spm_in(), dt, v * k);
  std::vector<float> w(k * m);
  std::vector<uint8_t> bytes(dtype_bytes(dt, k * m));
  memory_.read(base, bytes.data(), bytes.size());
  decode_elements(dt, bytes.data(), k * m, w.data());
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto rows = [](uint64_t n) { return static_cast<Eigen::Index>(n); };
  const Eigen::Map<const Mat> xs(x.data(), rows(v), rows(k));
  const Mat y = op.outputs_major()
                    ? Mat(xs * Eigen::Map<const Mat>(w.data(), rows(m), rows(k)).transpose())
                    : Mat(xs * Eigen::Map<const Mat>(w.data(), rows(k), rows(m)));
  const std::vector<float> out(y.data(), y.data() + y.size());
  Effect e{&ins, {}};
  e.writes.push_back(spm_write("pim.spm_out", op.spm_out(), dt, out));
  return e;
}

FunctionalCore::Effect FunctionalCore::vector(const Instruction& ins) const {
  const VectorOp& op = ins.vector();
  const DType dt = op.dtype();
  const uint64_t len = op.length();
  const uint64_t row = op.row_length() == 0 ? len : op.row_length();
  if (row == 0 || len % row != 0) {
    throw UserError(
        fmt::format("{}: vector.row_length: {} does not divide the length {}", where_, row, len));
  }
  const uint64_t rows = len / row;
  const VectorKind kind = op.kind();
  const std::vector<float> x =
      kind == FILL ? std::vector<float>{} : read_spm("vector.spm_in", op.spm_in(), dt, len);
  std::vector<float> out(is_reduction(kind) ? rows : len);
  if (kind == FILL) {
    // out is zeros already
  } else if (kind == COPY && op.transpose_rows() != 0) {
    const uint64_t r_count = op.transpose_rows();
    if (len % (r_count * row) != 0) {
      throw UserError(
          fmt::format("{}: vector.transpose_rows: {} rows of row_length {} do not "
                      "divide the length {}",
                      where_, r_count, row, len));
    }
    const uint64_t blocks = len / (r_count * row);
    for (uint64_t r = 0; r < r_count; ++r) {
      for (uint64_t c = 0; c < blocks; ++c) {
        std::copy_n(x.begin() + static_cast<std::ptrdiff_t>((r * blocks + c) * row), row,
                    out.begin() + static_cast<std::ptrdiff_t>((c * r_count + r) * row));
      }
    }
  } else if (is_unary(kind)) {
    for (uint64_t i = 0; i < len; ++i) out[i] = unary(kind, x[i]);
  } else if (is_binary(kind) && op.constant_in2()) {
    if (!op.has_scalar()) {
      throw UserError(fmt::format("{}: vector: {} by a constant the program does not hold", where_,
                                  VectorKind_Name(kind)));
    }
    const float s = op.scalar();
    for (uint64_t i = 0; i < len; ++i) {
      out[i] = op.scalar_first() ? binary(kind, s, x[i]) : binary(kind, x[i], s);
    }
  } else if (is_binary(kind)) {
    // in2: length elements, or one row added to every row.
    const std::vector<float> y =
        read_spm("vector.spm_in2", op.spm_in2(), dt, op.broadcast_in2() ? row : len);
    for (uint64_t i = 0; i < len; ++i)
      out[i] = binary(kind, x[i], y[op.broadcast_in2() ? i % row : i]);
  } else if (is_reduction(kind)) {
    for (uint64_t r = 0; r < rows; ++r) out[r] = reduce(kind, x.data() + r * row, row);
  } else if (kind == ROPE) {
    if (row % 2 != 0 || op.rope_tokens() == 0 || op.rope_rows_per_token() == 0) {
      throw UserError(
          fmt::format("{}: vector: ROPE needs an even row_length and rope_tokens and "
                      "rope_rows_per_token of at least 1",
                      where_));
    }
    for (uint64_t r = 0; r < rows; ++r) {
      const uint64_t token = (op.first_row() + r) / op.rope_rows_per_token();
      rope(x.data() + r * row, row, op.rope_theta(), op.rope_position() + token % op.rope_tokens(),
           out.data() + r * row);
    }
  } else if (kind == SOFTMAX) {
    const float scale = op.scale() == 0 ? 1.0f : op.scale();
    const uint64_t t = op.causal_tokens();
    if (t > row) {
      throw UserError(fmt::format("{}: vector.causal_tokens: {} new tokens in rows of {} keys",
                                  where_, t, row));
    }
    for (uint64_t r = 0; r < rows; ++r) {
      const uint64_t valid = t == 0 ? row : row - t + 1 + (op.first_row() + r) % t;
      softmax(x.data() + r * row, row, scale, valid, out.data() + r * row);
    }
  } else if (kind == RMSNORM || kind == LAYERNORM) {
    const std::vector<float> gain = read_spm("vector.spm_in2", op.spm_in2(), dt, row);
    const std::vector<float> bias = kind == LAYERNORM
                                        ? read_spm("vector.spm_in3", op.spm_in3(), dt, row)
                                        : std::vector<float>{};
    for (uint64_t r = 0; r < rows; ++r) {
      if (kind == RMSNORM) {
        rms_norm(x.data() + r * row, gain.data(), row, op.eps(), out.data() + r * row);
      } else {
        layer_norm(x.data() + r * row, gain.data(), bias.data(), row, op.eps(),
                   out.data() + r * row);
      }
    }
  } else if (kind == ROW_SCALE_ADD || kind == ROW_DIV) {
    const std::vector<float> s = read_spm("vector.spm_in3", op.spm_in3(), FP32, rows);
    const std::vector<float> y =
        kind == ROW_SCALE_ADD ? read_spm("vector.spm_in2", op.spm_in2(), dt, len) : x;
    for (uint64_t i = 0; i < len; ++i) {
      out[i] = kind == ROW_DIV ? x[i] / s[i / row] : x[i] * s[i / row] + y[i];
    }
  } else if (kind == ONLINE_SOFTMAX) {
    return online_softmax(ins, x, rows, row);
  } else {
    throw UserError(fmt::format("{}: vector.kind: functional mode does not compute {} yet", where_,
                                VectorKind_Name(kind)));
  }
  return {&ins, {spm_write("vector.spm_out", op.spm_out(), vector_out_dtype(op), out)}};
}

// ONLINE_SOFTMAX: the block's probabilities, and each row's m, l and alpha.
FunctionalCore::Effect FunctionalCore::online_softmax(const Instruction& ins,
                                                      const std::vector<float>& x, uint64_t rows,
                                                      uint64_t row) const {
  const VectorOp& op = ins.vector();
  const uint64_t t = op.causal_tokens();
  if (t > op.key_count() || op.key_offset() + row > op.key_count()) {
    throw UserError(
        fmt::format("{}: vector.key_count: {} keys hold neither {} new tokens or a block of {} "
                    "from key {}",
                    where_, op.key_count(), t, row, op.key_offset()));
  }
  std::vector<float> state = op.key_offset() == 0
                                 ? std::vector<float>(2 * rows, 0.0f)
                                 : read_spm("vector.spm_in3", op.spm_in3(), FP32, 2 * rows);
  float* m = state.data();
  float* l = m + rows;
  if (op.key_offset() == 0) std::fill_n(m, rows, -std::numeric_limits<float>::infinity());
  std::vector<float> p(x.size()), alpha(rows);
  const float scale = op.scale() == 0 ? 1.0f : op.scale();
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t valid = row;
    if (t != 0) {
      const uint64_t token = op.first_row() + (op.row_tokens() == 0 ? r : r % op.row_tokens());
      const uint64_t seen = op.key_count() - t + 1 + token % t;  // keys below this one
      valid = seen <= op.key_offset() ? 0 : std::min(row, seen - op.key_offset());
    }
    alpha[r] = npusim::online_softmax(x.data() + r * row, row, scale, valid, m[r], l[r],
                                      p.data() + r * row);
  }
  return {&ins,
          {spm_write("vector.spm_out", op.spm_out(), vector_out_dtype(op), p),
           spm_write("vector.spm_in3", op.spm_in3(), FP32, state),
           spm_write("vector.spm_out2", op.spm_out2(), FP32, alpha)}};
}

FunctionalCore::Write FunctionalCore::spm_write(const char* field, uint64_t address, DType dtype,
                                                const std::vector<float>& values) const {
  Write w{false, address, std::vector<uint8_t>(dtype_bytes(dtype, values.size()))};
  spm_range(field, address, w.bytes.size());
  // INT4, an odd count: the last byte's other nibble is the scratchpad's.
  if (dtype_bits(dtype) < 8 && values.size() % 2 != 0) {
    w.bytes.back() = spm_[address + w.bytes.size() - 1];
  }
  encode_elements(dtype, values.data(), values.size(), w.bytes.data());
  return w;
}

}  // namespace npusim::arch

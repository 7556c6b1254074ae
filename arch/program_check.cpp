#include "arch/program_check.h"

#include <fmt/format.h>

#include <type_traits>

#include "arch/dataflow.h"
#include "arch/vector_costs.h"
#include "common/address_space.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/integer.h"

namespace npusim::arch {
namespace {

class Checker {
 public:
  Checker(const Program& program, const CoreLimits& limits, const std::string& where)
      : program_(program), limits_(limits), where_(where) {}

  ProgramFacts run() {
    require(program_.cores_size() == static_cast<int>(limits_.cores), where_, "cores",
            fmt::format("this system has {} core(s); the program has {}", limits_.cores,
                        program_.cores_size()));
    for (int i = 0; i < program_.semaphores_size(); ++i) {
      const auto& sem = program_.semaphores(i);
      const std::string path = fmt::format("semaphores[{}]", i);
      require(sem.id() == static_cast<uint32_t>(i), where_, path + ".id", "must equal its index");
      require(sem.producer() != QUEUE_UNSPECIFIED && Queue_IsValid(sem.producer()), where_,
              path + ".producer", "must be DMA, MATRIX or VECTOR");
      require(sem.kind() != SEMAPHORE_KIND_UNSPECIFIED && SemaphoreKind_IsValid(sem.kind()), where_,
              path + ".kind", "must be DATA_READY or BUFFER_FREE");
      require(sem.core() < limits_.cores, where_, path + ".core",
              fmt::format("must be below the system's {} core(s)", limits_.cores));
    }
    for (uint32_t c = 0; c < limits_.cores; ++c) {
      core_ = c;
      const auto& core = program_.cores(static_cast<int>(c));
      const std::string names[] = {fmt::format("cores[{}].dma", c),
                                   fmt::format("cores[{}].matrix", c),
                                   fmt::format("cores[{}].vector", c)};
      queue(names[0], DMA, core.dma());
      queue(names[1], MATRIX, core.matrix());
      queue(names[2], VECTOR, core.vector());
    }
    return facts_;
  }

 private:
  void queue(const std::string& name, Queue q,
             const google::protobuf::RepeatedPtrField<Instruction>& instructions) {
    for (int i = 0; i < instructions.size(); ++i) {
      const auto& ins = instructions.Get(i);
      queue_ = &name;
      index_ = i;
      for (const auto& w : ins.wait()) sem_op(w, q, false);
      for (const auto& s : ins.signal()) sem_op(s, q, true);
      if (q == DMA) {
        ensure(ins.has_dma() || ins.has_pim() || ins.has_send(), "",
               "a DMA queue holds only dma instructions (and pim GEMVs, sends)");
        if (ins.has_pim()) {
          pim(ins.pim());
        } else if (ins.has_send()) {
          send(ins.send());
        } else {
          dma(ins.dma());
        }
      } else if (q == MATRIX) {
        ensure(ins.has_matrix(), "", "a matrix queue holds only matrix instructions");
        matrix(ins.matrix());
      } else {
        ensure(ins.has_vector(), "", "a vector queue holds only vector instructions");
        vector(ins.vector());
      }
    }
  }

  // Fails unless `ok`, naming the instruction's `field` (".dma.rows"); the
  // path and the message (a string, or a function making one) are built only
  // then: a program has hundreds of thousands of instructions to check.
  template <typename Message>
  void ensure(bool ok, const char* field, Message&& message) {
    if (ok) return;
    const std::string path = fmt::format("{}[{}]{}", *queue_, index_, field);
    if constexpr (std::is_invocable_v<Message>) {
      require(false, where_, path, message());
    } else {
      require(false, where_, path, message);
    }
  }

  void sem_op(const SemOp& op, Queue q, bool signal) {
    const char* sem_field = signal ? ".signal.sem" : ".wait.sem";
    ensure(op.sem() < static_cast<uint32_t>(program_.semaphores_size()), sem_field,
           [&] { return fmt::format("semaphore {} does not exist", op.sem()); });
    ensure(op.count() >= 1, signal ? ".signal.count" : ".wait.count", "must be >= 1");
    const auto& sem = program_.semaphores(static_cast<int>(op.sem()));
    if (signal) {
      ensure(sem.producer() == q && sem.core() == core_, sem_field, [&] {
        return fmt::format("semaphore '{}' is produced by queue {} of core {}", sem.name(),
                           Queue_Name(sem.producer()), sem.core());
      });
    } else {
      ensure(sem.producer() != q || sem.core() != core_, sem_field, [&] {
        return fmt::format("a queue cannot wait for its own semaphore '{}'", sem.name());
      });
    }
  }

  void send(const SendOp& op) {
    ensure(op.dest_core() < limits_.cores, ".send.dest_core", [&] {
      return fmt::format("{} is not below the system's {} core(s)", op.dest_core(), limits_.cores);
    });
    ensure(op.dest_core() != core_, ".send.dest_core", "a core cannot send to itself");
    spm(".send.spm_addr", op.spm_addr(), op.bytes());
    spm(".send.dest_spm_addr", op.dest_spm_addr(), op.bytes());
  }

  void spm(const char* field, uint64_t addr, uint64_t bytes) {
    ensure(bytes <= limits_.spm_capacity_bytes && addr <= limits_.spm_capacity_bytes - bytes, field,
           [&] {
             return fmt::format(
                 "range [{}, {}) exceeds the scratchpad capacity {} "
                 "(core.scratchpad.capacity_bytes)",
                 addr, addr + bytes, limits_.spm_capacity_bytes);
           });
    facts_.spm_peak_bytes = std::max(facts_.spm_peak_bytes, addr + bytes);
  }

  void dma(const DmaOp& op) {
    ensure(
        op.direction() != DmaOp::DIRECTION_UNSPECIFIED && DmaOp::Direction_IsValid(op.direction()),
        ".dma.direction", "must be LOAD or STORE");
    ensure(op.rows() >= 1 && op.row_bytes() >= 1, ".dma.rows", "rows and row_bytes must be >= 1");
    ensure(op.rows() == 1 || op.dram_stride() >= op.row_bytes(), ".dma.dram_stride",
           "must be >= row_bytes when rows > 1");
    ensure(op.tensor() < static_cast<uint32_t>(program_.tensors_size()), ".dma.tensor",
           "no such tensor");
    ensure(op.tensor_class() != TENSOR_CLASS_UNSPECIFIED && TensorClass_IsValid(op.tensor_class()),
           ".dma.tensor_class", "must be WEIGHT, KV_CACHE or ACTIVATION");
    uint64_t bytes = 0;
    ensure(!__builtin_mul_overflow(op.rows(), op.row_bytes(), &bytes), ".dma.rows", [&] {
      return fmt::format("{} rows of {} bytes: more than 2^64 bytes", op.rows(), op.row_bytes());
    });
    spm(".dma.spm_addr", op.spm_addr(), bytes);
    // Memory: [dram_addr, dram_addr + (rows - 1) * stride + row_bytes).
    const uint64_t stride = op.rows() == 1 ? 0 : op.dram_stride();
    uint64_t last_row = 0, span = 0;
    const bool fits = !__builtin_mul_overflow(op.rows() - 1, stride, &last_row) &&
                      !__builtin_add_overflow(last_row, op.row_bytes(), &span);
    memory_range(".dma.dram_addr", op.dram_addr(), fits ? span : UINT64_MAX, [&] {
      return fmt::format("{} rows of {} bytes, {} apart,", op.rows(), op.row_bytes(), stride);
    });
    if (op.has_pim()) {
      const PimRegionRef& r = op.pim();
      const uint32_t blocks = std::max(r.blocks(), 1u);
      ensure(op.direction() == DmaOp::STORE && r.out_rows() >= 1 && r.in_cols() >= 1, ".dma.pim",
             "a store into a region of out_rows, in_cols >= 1");
      pim_region(".dma.pim.region", r.region(), r.out_rows(), r.in_cols(), blocks);
      const uint64_t logical = uint64_t{blocks} * r.out_rows() * r.in_cols() * 2;
      ensure(op.dram_addr() >= r.region() && fits && op.dram_addr() - r.region() <= logical &&
                 span <= logical - (op.dram_addr() - r.region()),
             ".dma.dram_addr", [&] {
               return fmt::format("the store reaches outside the region's {} logical bytes",
                                  logical);
             });
    }
  }

  // Checks that [addr, addr + bytes) lies in one memory, within its
  // capacity; returns the memory. `what` describes the range for errors.
  template <typename What>
  const MemoryLimit& memory_range(const char* field, uint64_t addr, uint64_t bytes, What&& what) {
    const uint32_t m = memory_of(addr);
    const bool routed = m < limits_.memories.size();
    // Past the last range: named as the one memory's, or the system's.
    const MemoryLimit& limit = limits_.memories[routed ? m : limits_.memories.size() - 1];
    const uint64_t cap = limit.capacity_bytes == 0 ? memory_base(1) : limit.capacity_bytes;
    const uint64_t local = local_address(addr);
    ensure(routed && bytes <= cap && local <= cap - bytes, field, [&] {
      return fmt::format(
          "{} from 0x{:x} reach past the {}", what(), addr,
          !routed && limits_.memories.size() > 1
              ? fmt::format("address space of the system's {} memories", limits_.memories.size())
          : limit.capacity_bytes == 0
              ? std::string("memory's address space")
              : fmt::format("memory's capacity ({} bytes, {})", limit.capacity_bytes, limit.field));
    });
    return limit;
  }

  void pim(const PimOp& op) {
    ensure(op.out_rows() >= 1 && op.in_cols() >= 1 && op.vectors() >= 1, ".pim",
           "out_rows, in_cols and vectors must be >= 1");
    ensure(op.dtype() == FP16 || op.dtype() == BF16, ".pim.dtype", [&] {
      return fmt::format("{} is not FP16 or BF16 (the PIM units' lanes)", DType_Name(op.dtype()));
    });
    ensure(op.tensor() < static_cast<uint32_t>(program_.tensors_size()), ".pim.tensor",
           "no such tensor");
    ensure(op.tensor_class() != TENSOR_CLASS_UNSPECIFIED && TensorClass_IsValid(op.tensor_class()),
           ".pim.tensor_class", "must be WEIGHT, KV_CACHE or ACTIVATION");
    const uint32_t blocks = std::max(op.blocks(), 1u);
    ensure(op.block() < blocks, ".pim.block",
           [&] { return fmt::format("{} is not below blocks ({})", op.block(), blocks); });
    // At most 2^32 x 2^32 elements of 2 bytes: no overflow in 64 bits.
    spm(".pim.spm_in", op.spm_in(), uint64_t{op.vectors()} * op.in_cols() * 2);
    spm(".pim.spm_out", op.spm_out(), uint64_t{op.vectors()} * op.out_rows() * 2);
    pim_region(".pim.dram_addr", op.dram_addr(), op.out_rows(), op.in_cols(), blocks);
  }

  // A PIM region of `blocks` matrices of out_rows x in_cols 2-byte elements
  // at `addr`: in a PIM memory, aligned to its stripe, within its capacity.
  void pim_region(const char* field, uint64_t addr, uint32_t out_rows, uint32_t in_cols,
                  uint32_t blocks) {
    const uint32_t m = memory_of(addr);
    const MemoryLimit* memory = m < limits_.memories.size() ? &limits_.memories[m] : nullptr;
    ensure(memory != nullptr && memory->pim, field, [&] {
      return fmt::format(
          "0x{:x} is in {}, which is not a PIM memory: the program was compiled for another "
          "system (one whose memory computes; --pim off compiles without PIM)",
          addr,
          memory == nullptr ? fmt::format("no memory (memory {})", m)
                            : fmt::format("memory '{}'", memory->name));
    });
    const memory::pim::PimGeometry& g = *memory->pim;
    const uint64_t stripe = g.stripe_bytes();
    ensure(local_address(addr) % stripe == 0, field, [&] {
      return fmt::format("0x{:x} is not aligned to the PIM memory's stripe of {} bytes", addr,
                         stripe);
    });
    const uint64_t region =
        memory::pim::PimLayout(g, 0, out_rows, in_cols, 2, blocks).region_bytes();
    memory_range(field, addr, region, [&] {
      return fmt::format("{} block(s) of {} x {} weights' PIM region of {} bytes", blocks, in_cols,
                         out_rows, region);
    });
  }

  void matrix(const MatrixOp& op) {
    ensure(op.m() >= 1 && op.k() >= 1 && op.n() >= 1, ".matrix", "m, k and n must be >= 1");
    ensure(op.dataflow() == DATAFLOW_UNSPECIFIED || DataflowRegistry::find(op.dataflow()),
           ".matrix.dataflow", "not a registered dataflow");
    ensure(dtype_bits(op.dtype()) > 0, ".matrix.dtype", "must be set");
    ensure(op.a_dtype() == DTYPE_UNSPECIFIED || dtype_bits(op.a_dtype()) > 0, ".matrix.a_dtype",
           "not an element type");
    spm(".matrix.spm_a", op.spm_a(), dtype_bytes(a_dtype(op), uint64_t{op.m()} * op.k()));
    spm(".matrix.spm_b", op.spm_b(), dtype_bytes(op.dtype(), uint64_t{op.k()} * op.n()));
    spm(".matrix.spm_out", op.spm_out(), dtype_bytes(FP32, uint64_t{op.m()} * op.n()));
    if (op.w_scale_group() != 0) {
      ensure(dtype_bits(op.w_scale_dtype()) >= 16, ".matrix.w_scale_dtype",
             "must be a floating-point type (FP16, BF16, FP32)");
      const uint64_t k = op.k(), n = op.w_scale_a() ? op.m() : op.n();  // the weight's k x n
      const uint64_t ld = op.w_scale_ld() == 0 ? n : op.w_scale_ld();
      ensure(ld >= n, ".matrix.w_scale_ld", "must be at least the weight's columns");
      const uint64_t groups = (uint64_t{op.w_scale_first()} + k - 1) / op.w_scale_group() + 1;
      spm(".matrix.spm_w_scale", op.spm_w_scale(),
          dtype_bytes(op.w_scale_dtype(), (groups - 1) * ld + n));
    }
    if (op.has_spm_out_scale()) {
      ensure(dtype_bits(op.out_scale_dtype()) >= 16, ".matrix.out_scale_dtype",
             "must be a floating-point type (FP16, BF16, FP32)");
      spm(".matrix.spm_out_scale", op.spm_out_scale(),
          dtype_bytes(op.out_scale_dtype(), op.out_scale_rows() ? op.m() : op.n()));
    }
  }

  void vector(const VectorOp& op) {
    ensure(vector_cost(op.kind()) != nullptr, ".vector.kind", "not a vector operation");
    ensure(dtype_bits(op.dtype()) > 0, ".vector.dtype", "must be set");
    // More elements than the scratchpad holds bytes would not fit even at 4
    // bits; the bound keeps the byte counts below from overflowing.
    ensure(op.length() >= 1 && op.length() <= 2 * limits_.spm_capacity_bytes, ".vector.length",
           [&] {
             return fmt::format("{} must be between 1 and the scratchpad's capacity in elements",
                                op.length());
           });
    ensure(op.row_length() <= op.length(), ".vector.row_length",
           [&] { return fmt::format("{} must be <= length {}", op.row_length(), op.length()); });
    ensure(op.out_dtype() == DTYPE_UNSPECIFIED || dtype_bits(op.out_dtype()) > 0,
           ".vector.out_dtype", "not an element type");
    const uint64_t bytes = dtype_bytes(op.dtype(), op.length());
    if (op.kind() != FILL) spm(".vector.spm_in", op.spm_in(), bytes);
    spm(".vector.spm_out", op.spm_out(), dtype_bytes(vector_out_dtype(op), op.length()));
    // The fp32 row state: alpha or l (ROW_), or m and l, and alpha (ONLINE_SOFTMAX).
    const uint64_t rows = op.row_length() != 0 ? ceil_div(op.length(), op.row_length()) : 1;
    if (op.kind() == ROW_SCALE_ADD || op.kind() == ROW_DIV) {
      spm(".vector.spm_in3", op.spm_in3(), dtype_bytes(FP32, rows));
    } else if (op.kind() == ONLINE_SOFTMAX) {
      spm(".vector.spm_in3", op.spm_in3(), dtype_bytes(FP32, 2 * rows));
      spm(".vector.spm_out2", op.spm_out2(), dtype_bytes(FP32, rows));
    }
    // A second operand: at least one row (a parameter vector is one row).
    if (op.spm_in2() != 0) {
      spm(".vector.spm_in2", op.spm_in2(),
          dtype_bytes(op.dtype(), op.row_length() != 0 ? op.row_length() : op.length()));
    }
  }

  const Program& program_;
  const CoreLimits& limits_;
  const std::string& where_;
  const std::string* queue_ = nullptr;  // the instruction being checked: queue and index
  int index_ = 0;
  uint32_t core_ = 0;  // whose queues
  ProgramFacts facts_;
};

}  // namespace

ProgramFacts check_program(const Program& program, const CoreLimits& limits,
                           const std::string& where) {
  return Checker(program, limits, where).run();
}

}  // namespace npusim::arch

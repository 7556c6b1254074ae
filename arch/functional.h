// Functional mode: a core's instructions executed with data beside the
// timing model, which it never changes (no events, no waits).
//
// A memory image holds what memory holds; each core has its scratchpad's
// bytes. An instruction reads its inputs when its queue issues it (its
// semaphores taken) and its results become visible when it retires: to the
// other queues when it gives a semaphore (or when the run ends), to its own
// queue before the queue's next instruction reads anything (a queue executes
// in program order). So a program whose semaphores do not order a producer
// before a consumer reads stale or clobbered data here, as it would on the
// hardware, and functional mode catches what the timing model cannot.
//
// The data semantics of each instruction are in arch/isa.proto (MatrixOp,
// VectorOp, DmaOp, PimOp); element types in common/elements.h.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "arch/isa.pb.h"

namespace npusim::arch {

// A sparse byte-addressed memory: pages come into being when first written;
// bytes never written read as zero.
class MemoryImage {
 public:
  MemoryImage() = default;
  MemoryImage(const MemoryImage& other);  // a deep copy (each chip's memories)
  MemoryImage& operator=(const MemoryImage&) = delete;
  MemoryImage(MemoryImage&&) = default;
  void read(uint64_t address, uint8_t* out, uint64_t bytes) const;
  void write(uint64_t address, const uint8_t* in, uint64_t bytes);

 private:
  static constexpr uint64_t kPageBytes = uint64_t{1} << 20;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
};

class FunctionalCore {
 public:
  // `where` names the program in errors, and its nodes the instruction's.
  FunctionalCore(MemoryImage& memory, uint64_t spm_bytes, std::string where,
                 const Program* program = nullptr);

  // The queue issues `instruction`: its inputs are read now.
  void issue(Queue queue, const Instruction& instruction);
  // `instruction` retires (gives its semaphores): its queue's results up to
  // it become visible.
  void retire(Queue queue, const Instruction& instruction);
  // The run ended: every result is visible.
  void finish();
  // The other cores' functional state, by core index (sends write into
  // theirs); this core's own entry may be anything.
  void set_peers(std::vector<FunctionalCore*> peers) { peers_ = std::move(peers); }

 private:
  struct Write {
    bool memory;  // else the scratchpad
    uint64_t address;
    std::vector<uint8_t> bytes;
    FunctionalCore* into = nullptr;  // another core's scratchpad (a send), else this one's
  };
  struct Effect {
    const Instruction* instruction;
    std::vector<Write> writes;
    // A DMA load copies memory into the scratchpad when it retires: only
    // this core's DMA queue writes memory, in program order, so memory then
    // holds what it held at issue, and the bytes need no copy in between.
    const DmaOp* load = nullptr;
  };

  void commit(Queue queue, const Instruction* up_to);  // null: all
  [[nodiscard]] Effect dma(const Instruction& ins) const;
  [[nodiscard]] Effect send(const Instruction& ins) const;
  [[nodiscard]] Effect matrix(const Instruction& ins) const;
  void dequantise(const MatrixOp& op, std::vector<float>& weight) const;
  [[nodiscard]] Effect vector(const Instruction& ins) const;
  [[nodiscard]] Effect pim(const Instruction& ins) const;
  [[nodiscard]] Effect online_softmax(const Instruction& ins, const std::vector<float>& x,
                                      uint64_t rows, uint64_t row) const;
  // Checks [address, address + bytes) lies in the scratchpad.
  void spm_range(const char* field, uint64_t address, uint64_t bytes) const;
  // Elements of a row-major or column-major matrix operand, as floats.
  [[nodiscard]] std::vector<float> read_matrix(const char* field, uint64_t address, DType dtype,
                                               uint64_t rows, uint64_t cols, uint64_t ld,
                                               bool col_major) const;
  [[nodiscard]] std::vector<float> read_spm(const char* field, uint64_t address, DType dtype,
                                            uint64_t count) const;
  // `values` as `dtype` at `address`, to be written when the instruction
  // retires.
  [[nodiscard]] Write spm_write(const char* field, uint64_t address, DType dtype,
                                const std::vector<float>& values) const;

  MemoryImage& memory_;
  std::vector<uint8_t> spm_;
  std::vector<FunctionalCore*> peers_;
  std::string where_;
  const Program* program_;
  std::array<std::deque<Effect>, 4> pending_;  // per queue, in program order
};

}  // namespace npusim::arch

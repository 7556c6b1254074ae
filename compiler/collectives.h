// Collectives built from sends (isa.proto SendOp) and the vector unit,
// appended to a program of several cores: the schedule is the compiler's
// choice; its time is whatever the chip network makes of the sends
// (arch/chip_network.h), never a formula.
//
// Ring collectives over a buffer of E elements at the same scratchpad
// address on every core of the ring, in N chunks (N cores; chunk k is
// elements [k E / N, (k + 1) E / N)):
//   reduce-scatter, steps s = 0 .. N - 2: core r sends chunk (r - s) mod N
//     into the next core's receive buffer; the next core adds it into its
//     own copy of that chunk, then frees the buffer (a credit the sender
//     waits for before its next send) and sends the sum on at step s + 1.
//     Core r ends with chunk (r + 1) mod N summed over the ring;
//   all-gather, steps s = 0 .. N - 2: core r sends chunk (r + h - s) mod N,
//     complete, straight into the next core's copy, which passes it on
//     (h = 0 alone: core r starts with chunk r; h = 1 after a
//     reduce-scatter). Every core ends with every chunk;
//   all-reduce: reduce-scatter, then all-gather.
// Each core sends N - 1 chunks of E / N per phase: on an idle ring of
// bandwidth W per direction a phase takes (N - 1) / N x E x bytes / W plus,
// per step, the hops' latencies (and, reducing, an add).
#pragma once

#include <cstdint>
#include <vector>

#include "arch/isa.pb.h"

namespace npusim::compiler {

enum class RingOp : uint8_t { AllReduce, ReduceScatter, AllGather };

// The semaphores of a ring, one of each role per position r: a receive
// buffer full (given by the previous core's sends), free again (by r's
// adds; initially 1), a chunk added (for r's own next send), an all-gather
// chunk landed in r's copy (by the previous core's sends). Reducing uses
// the first three, gathering the last.
enum class RingRole : uint8_t { RecvFull, RecvFree, Added, Gathered };
inline constexpr size_t kRingRoles = 4;
[[nodiscard]] const char* ring_role_name(RingRole role);  // "recv_full", ...
struct RingSemRef {
  RingRole role;
  bool next = false;  // the next core's semaphore, not this one's
};

// One instruction of a ring collective on the core at position r: a send
// (DMA queue) of chunk `chunk` to the next core, into its receive buffer
// or its copy of the chunk, or an add (vector queue) of the received chunk
// into r's own copy of `chunk`.
struct RingStep {
  enum Kind : uint8_t { Send, Add } kind = Send;
  uint32_t chunk = 0;
  bool into_scratch = false;  // a send into the next core's receive buffer
  // The first to use the data: it waits for the buffer to be in the
  // scratchpad (RingCollective.data_ready).
  bool after_data = false;
  std::vector<RingSemRef> waits, signals;
};

// Position r's steps of a ring collective over n cores, in order: each
// waits (by its semaphores, or by its queue's order) for the one before.
// After them, r's copy is complete once it takes one more Gathered (a
// gather) or Added (a reduce-scatter).
[[nodiscard]] std::vector<RingStep> ring_steps(RingOp op, uint32_t n, uint32_t r);

// The instruction of `step` (its semaphores aside) on a ring of `n` cores
// over `elements` of `dtype` at spm_data on every core, chunks received at
// spm_scratch, a send going to core `next`.
[[nodiscard]] Instruction ring_step_instruction(const RingStep& step, uint32_t n, uint64_t elements,
                                                DType dtype, uint64_t spm_data,
                                                uint64_t spm_scratch, uint32_t next);

// The semaphore of `role` of ring position r is signalled by a queue of
// this core (false) or of the previous one (true): by its sends.
[[nodiscard]] constexpr bool given_by_previous(RingRole role) {
  return role == RingRole::RecvFull || role == RingRole::Gathered;
}

// What every collective has: its cores, its buffer on each, and the
// semaphores saying the buffer is there.
struct Collective {
  std::vector<uint32_t> cores;  // Program.cores indices (a ring: in ring order)
  uint64_t spm_data = 0;        // the buffer, at the same address on every core
  uint64_t elements = 0;        // in each core's buffer
  DType dtype = FP16;
  // Per core (as `cores`), a semaphore the first of the collective's
  // instructions to use the buffer waits for: the buffer is in its
  // scratchpad (empty: it is already).
  std::vector<uint32_t> data_ready;
  std::string name = "collective";  // prefixes its semaphores' names
};

struct RingCollective : Collective {
  RingOp op = RingOp::AllReduce;
  uint64_t spm_scratch = 0;  // a chunk's bytes to receive into (reducing)
};

// Appends the instructions and semaphores to `program`, whose cores must
// exist. After an all-gather (or all-reduce), core r's buffer is complete
// when semaphore "<name>[r].gathered" can be taken once more after the
// collective's own instructions on its DMA queue (a wait of count 1 placed
// after them); after a reduce-scatter, when "<name>[r].added" can be.
// UserError when the ring has fewer than 2 cores or fewer elements than
// cores.
void ring_collective(Program& program, const RingCollective& spec);

// All-to-all over `cores` (Program.cores indices, N of them): core r's
// buffer at spm_data holds N chunks (chunk d, elements [d E / N, (d + 1) E
// / N), is for core d); after it, core d's buffer at spm_out holds chunk d
// of every core, core s's at slot s (s x chunk d's elements on). Pairwise
// exchange: at step j = 1 .. N - 1 core r sends chunk (r + j) mod N
// straight into that core's slot r; every step is a permutation of the
// cores, and all are issued at once, so the links and ports on the routes
// set the time (on a fully connected network: one chunk's time plus a
// link's latency). Its own chunk core r copies with its vector unit.
// Completion on core d: semaphore "<name>[d].from[s]" for each s != d
// (given by s's send) and "<name>[d].own" (its copy), each once.
struct AllToAll : Collective {
  uint64_t spm_out = 0;  // the output, at the same address on every core
};
// UserError when there are fewer than 2 cores or fewer elements than cores.
void all_to_all(Program& program, const AllToAll& spec);

// A program of `cores` cores running `count` all-to-alls of `elements`
// each at once (buffer k at 2 k x its bytes, its output after it).
[[nodiscard]] Program all_to_all_program(uint32_t cores, uint64_t elements, DType dtype,
                                         uint32_t count = 1);

// A program of `cores` cores (a ring in index order) running `count` ring
// collectives of `elements` each at once, one after another's buffer in the
// scratchpads (buffer k at 2 k x its bytes, its receive buffer after it), on
// whatever the scratchpads hold: a topology's collective measured alone
// (npusim collective).
[[nodiscard]] Program collective_program(RingOp op, uint32_t cores, uint64_t elements, DType dtype,
                                         uint32_t count = 1);

}  // namespace npusim::compiler

// What a core tells a timeline trace (sim/trace_writer.h) while it runs:
// each unit's activity as it becomes final (busy, or stalled for a cause),
// and each instruction from when its queue issues it to when it completes.
// Without a sink the engines pay one pointer test.
#pragma once

#include <cstdint>

#include "arch/activity.h"
#include "arch/isa.pb.h"

namespace npusim::arch {

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  // [start, end) of `queue`'s unit was `activity` (never Idle); the spans of
  // one queue come in time order and do not overlap.
  virtual void activity(Queue queue, const Segment& span) = 0;
  // `instruction` of `queue` was issued at `start_ps` and completed at
  // `end_ps` (instructions of a queue may overlap: DMA transfers in flight,
  // tiles on different arrays).
  virtual void instruction(Queue queue, const Instruction& instruction, uint64_t start_ps,
                           uint64_t end_ps) = 0;
  // From `time_ps` on, `bytes` of the scratchpad are in use (buffers taken
  // by a writer and not yet released by their last reader).
  virtual void scratchpad(uint64_t time_ps, uint64_t bytes) = 0;
};

}  // namespace npusim::arch

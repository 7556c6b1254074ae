#include "arch/vector_unit.h"

#include <stdexcept>

#include "arch/vector_costs.h"
#include "common/dtype.h"

namespace npusim::arch {

VectorUnit::VectorUnit(const sc_core::sc_module_name& name, const Instructions& queue,
                       CoreContext& context, uint32_t lanes)
    : Engine(name, VECTOR, queue, context), lanes_(lanes) {}

void VectorUnit::execute(const Instruction& instruction) {
  const VectorOp& op = instruction.vector();
  const VectorCost* cost = vector_cost(op.kind());
  if (cost == nullptr) throw std::logic_error("vector op without a cost entry");
  const uint64_t cycles = vector_cycles(*cost, op.length(), op.row_length(), lanes_);
  const uint64_t start = now_ps();
  const uint64_t end = start + cycles_ps(cycles);
  busy(start, end);
  complete_at(end, instruction);
  ++stats_.ops;
  stats_.cycles += cycles;
  stats_.element_passes += op.length() * cost->passes;
  // Each element processed reads one element of each input (a parameter row
  // is read again for every row) and writes one result (one per row when
  // the op reduces rows).
  const uint64_t row = op.row_length() != 0 ? op.row_length() : op.length();
  const bool reduces =
      op.kind() == REDUCE_SUM || op.kind() == REDUCE_MAX || op.kind() == REDUCE_MEAN;
  const uint64_t inputs = op.spm_in2() != 0 ? 2 : 1;
  stats_.spm_bytes +=
      dtype_bytes(op.dtype(), inputs * op.length()) +
      dtype_bytes(op.dtype(), reduces ? (op.length() + row - 1) / row : op.length());
  wait_until(end);
}

}  // namespace npusim::arch

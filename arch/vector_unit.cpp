#include "arch/vector_unit.h"

#include <stdexcept>

#include "arch/vector_costs.h"

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
  wait_until(end);
}

}  // namespace npusim::arch

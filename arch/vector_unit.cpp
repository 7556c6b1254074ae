#include "arch/vector_unit.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "arch/vector_costs.h"
#include "common/dtype.h"

namespace npusim::arch {

VectorUnit::VectorUnit(const sc_core::sc_module_name& name, const Instructions& queue,
                       CoreContext& context, uint32_t lanes)
    : Engine(name, VECTOR, queue, context), lanes_(lanes) {
  if (ResourceLedger* ledger = context.ledger) {
    lanes_column_ = ledger->add_resource({"vector lanes", ResourcePath::Vector, "cycles",
                                          1.0 / static_cast<double>(context.clock.value()),
                                          fmt::format("{} lanes", lanes), ""});
  }
}

void VectorUnit::execute(const Instruction& instruction) {
  const VectorOp& op = instruction.vector();
  const VectorCost* cost = vector_cost(op.kind());
  if (cost == nullptr) throw std::logic_error("vector op without a cost entry");
  const uint64_t cycles = vector_cycles(*cost, op.length(), op.row_length(), lanes_);
  const uint64_t start = now_ps();
  const uint64_t end = start + cycles_ps(cycles);
  busy(start, end);
  if (context_.ledger != nullptr) {
    context_.ledger->add(lanes_column_, start, end, static_cast<double>(cycles));
  }
  complete_at(end, instruction);
  ++stats_.ops;
  stats_.cycles += cycles;
  stats_.element_passes += op.length() * cost->passes;
  if (NodeProfile* p = node_profile(instruction)) p->vector_elements += op.length() * cost->passes;
  const uint64_t spm = vector_spm_bytes(op, *cost);
  stats_.spm_bytes += spm;
  start_ps_ = start;
  end_ps_ = end;
  latest_ = {static_cast<double>(op.length() * cost->passes), static_cast<double>(spm)};
  wait_until(end);
}

VectorUnit::Pending VectorUnit::pending_at(uint64_t t_ps) const {
  if (end_ps_ <= t_ps || end_ps_ <= start_ps_) return {};
  const double left = static_cast<double>(end_ps_ - std::max(t_ps, start_ps_)) /
                      static_cast<double>(end_ps_ - start_ps_);
  return {left * latest_.element_passes, left * latest_.spm_bytes};
}

}  // namespace npusim::arch

// Per-op statistics, breakdowns by op class and by layer, and the roofline:
// where each op sits against the machine's compute roof and its memory roof.
//
// An op's FLOPs are 2 x the MACs its tiles do on the arrays plus the element
// operations of its vector instructions (elements x passes over them); its
// bytes are its DMA transfers. Time is attributed by completion (see
// OpStats in report.proto), so op, class and layer seconds add up to the
// run's; achieved rates are over the time an op (or the ops of a class or
// layer) was active, and `bound` is the measured limiter over that time.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "arch/engine.h"
#include "arch/isa.pb.h"
#include "sim/limiters.h"
#include "sim/report.pb.h"
#include "sim/system.pb.h"

namespace npusim::sim {

// The decoder layer a graph node belongs to ("layers.<n>.<...>"), or -1.
[[nodiscard]] int decoder_layer(const std::string& node);

// The class of a graph node for the breakdown: attention, mlp, norm,
// lm_head, embedding or other, from its op and its name.
[[nodiscard]] std::string op_class(const std::string& node, const std::string& op);

// Fills report.ops, classes, layers and roofline from the nodes' profiles.
// `memory_roof_gbps` is the memory roof (0: the configured peak).
void fill_roofline(const System& system, const Program& program,
                   const std::vector<arch::NodeProfile>& profile, double memory_roof_gbps,
                   const Limiters& limiters, Report* report);

// The roofline table: per class, per layer (at most `layers` rows) and the
// `top` ops that took the most time.
void print_roofline(const Report& report, std::ostream& out, size_t top = 10);

// One row per op, with a header: what pandas.read_csv reads.
void write_ops_csv(const Report& report, const std::string& path);

}  // namespace npusim::sim

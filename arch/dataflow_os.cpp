// Output stationary: each PE accumulates one output element; inputs stream
// from the left and weights from the top, the reduction K flows in time.
#include "arch/dataflow.h"

namespace npusim::arch {
NPUSIM_REGISTER_DATAFLOW(os, DataflowInfo{"os", OUTPUT_STATIONARY, [](const GemmShape& g) {
                                            return DataflowMapping{g.m, g.n, g.k, false};
                                          }});
}  // namespace npusim::arch

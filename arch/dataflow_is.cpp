// Input stationary: a K x M block of inputs is loaded into the PEs before each
// fold; the N weight columns stream through.
#include "arch/dataflow.h"

namespace npusim::arch {
NPUSIM_REGISTER_DATAFLOW(is, DataflowInfo{"is", INPUT_STATIONARY, [](const GemmShape& g) {
                                            return DataflowMapping{g.k, g.m, g.n, true};
                                          }});
}  // namespace npusim::arch

// Weight stationary: a K x N block of weights is loaded into the PEs before
// each fold; the M input rows stream through.
#include "arch/dataflow.h"

namespace npusim::arch {
NPUSIM_REGISTER_DATAFLOW(ws, DataflowInfo{"ws", WEIGHT_STATIONARY, [](const GemmShape& g) {
                                            return DataflowMapping{g.k, g.n, g.m, true};
                                          }});
}  // namespace npusim::arch

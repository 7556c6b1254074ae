// A private SystemC kernel for one simulation. SystemC keeps its kernel in a
// global; each simulation makes a fresh one and restores the previous one
// (deleting its own) on scope exit, so a process can simulate many times.
#pragma once

#include <cstdlib>
#include <systemc>

namespace npusim::sim {

class ScopedSimContext {
 public:
  ScopedSimContext() : previous_(sc_core::sc_curr_simcontext) {
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
    // SystemC's notes (sc_stop's "Simulation stopped by user", when bad
    // input found during a run stops it) are not npusim's output: the error
    // that stopped it is.
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    context_ = new sc_core::sc_simcontext;
    sc_core::sc_curr_simcontext = context_;
    sc_core::sc_default_global_context = context_;
  }
  ~ScopedSimContext() {
    sc_core::sc_curr_simcontext = previous_;
    sc_core::sc_default_global_context = previous_;
    delete context_;
  }
  ScopedSimContext(const ScopedSimContext&) = delete;
  ScopedSimContext& operator=(const ScopedSimContext&) = delete;

  // sc_core::sc_start(): runs the simulation to its end. Use this rather
  // than sc_start() itself: under AddressSanitizer it also puts right what
  // SystemC's coroutines leave wrong (sim_context.cpp).
  void run();

 private:
  sc_core::sc_simcontext* previous_;
  sc_core::sc_simcontext* context_;
};

}  // namespace npusim::sim

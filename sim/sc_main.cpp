// libsystemc's own main() calls sc_main(); npusim has its own main() and runs
// each simulation in a private context (simulator.cpp), so this is never
// called. It exists because the SystemC library refers to it.
#include <systemc>

int sc_main(int, char*[]) {
  return 1;
}

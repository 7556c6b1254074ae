// ScopedSimContext::run() and AddressSanitizer.
//
// SystemC runs each SC_THREAD on a coroutine stack of its own (Debian's
// libsystemc 2.3.4: QuickThreads on mmap'd stacks) and announces each switch
// to AddressSanitizer (weak __sanitizer_start/finish_switch_fiber calls in
// sc_cor_qt.cpp), but incompletely: a switch back to the main stack is
// announced with the bounds [0, 0) (the main coroutine's stack is never
// recorded), and a finished thread's last switch (sc_cor_pkg_qt::abort) is
// not announced at all. After sc_start() returns, ASan therefore believes the
// thread runs on no stack or on a dead coroutine's. A C++ throw calls
// __asan_handle_no_return to unpoison the frames it will skip, from the stack
// pointer up to the stack's top; with those bounds it gives up ("ASan is
// ignoring requested __asan_handle_no_return") and the skipped frames' red
// zones stay poisoned. A later call from uninstrumented code (libstdc++,
// libprotobuf, libonnx) into an intercepted function (memcpy, memcmp) with a
// buffer on that part of the stack is then reported as a stack overflow or a
// use after scope: a false positive, in any process that throws after a
// simulation with threads (a deadlocked program, then bad input; the tests
// run in one process).
//
// run() reads the bounds ASan holds for this thread's stack before
// sc_start() (they are right: the thread's own stack) and announces a switch
// back to them when sc_start() returns or throws, so every later throw
// unpoisons what it skips. This uses only ASan's public fiber interface and
// needs no change to SystemC, no rebuilt library and no ASan option; it does
// not hide any report. SystemC's pthread coroutines (SC_USE_PTHREADS) would
// avoid the problem but are chosen when libsystemc is built.
//
// What it does not cover: a throw inside the simulation (in a process, or
// code it calls) after a switch SystemC announced wrongly. npusim's only
// such throw is a bad trace line in memtest's traffic generator, an
// SC_METHOD in a simulation without threads (so without switches). SystemC
// also passes no fake-stack save slot on its switches, so ASan would free a
// thread's fake stack on every switch: keep detect_stack_use_after_return=0
// (the default; scripts/sanitize.sh sets it).
#include "sim/sim_context.h"

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NPUSIM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NPUSIM_ASAN 1
#endif

#ifdef NPUSIM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace npusim::sim {
namespace {

#ifdef NPUSIM_ASAN
struct StackBounds {
  const void* bottom = nullptr;
  size_t size = 0;
};

// Announces a switch to the stack `to` (the one we are on).
void switch_to(const StackBounds& to) {
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, to.bottom, to.size);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
}

// The bounds ASan holds for the running stack: a switch to nowhere hands them
// out, a switch back restores them.
StackBounds current_stack() {
  StackBounds b;
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, nullptr, 0);
  __sanitizer_finish_switch_fiber(fake_stack, &b.bottom, &b.size);
  switch_to(b);
  return b;
}

class RestoreStackOnExit {
 public:
  RestoreStackOnExit() : own_(current_stack()) {}
  ~RestoreStackOnExit() { switch_to(own_); }
  RestoreStackOnExit(const RestoreStackOnExit&) = delete;
  RestoreStackOnExit& operator=(const RestoreStackOnExit&) = delete;

 private:
  StackBounds own_;
};
#endif

}  // namespace

void ScopedSimContext::run() {
#ifdef NPUSIM_ASAN
  const RestoreStackOnExit restore;
#endif
  sc_core::sc_start();
}

}  // namespace npusim::sim

# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: the clang toolchain
# they install, the build both use, and the runtime options that make any
# sanitizer report fatal. Sourcing it by hand sets the same options for
# running a sanitized binary or a fuzz harness on one input.
here="${here:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
sanitizer_packages=(clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14)
san_build="${NPUSIM_SAN_BUILD:-$here/build-san}"
symbolizer=/usr/bin/llvm-symbolizer-14
# detect_stack_use_after_return=0: SystemC 2.3.4's coroutine switches pass
# AddressSanitizer no slot to save a thread's fake stack, which would free
# it on every switch (sim/sim_context.cpp). It is also the default.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1:external_symbolizer_path=$symbolizer"
export LSAN_OPTIONS="suppressions=$here/scripts/lsan-suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:external_symbolizer_path=$symbolizer"

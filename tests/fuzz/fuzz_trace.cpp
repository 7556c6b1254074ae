// memtest traces (memory/traffic_generator.h: lines of "time_ns R|W address
// bytes"): every line parsed, and, when the requests add up to at most
// 16 MiB (simulation time grows with the bytes), run through an HBM3 DRAM as
// `npusim memtest --dram HBM3-6400 --trace FILE` does (sim/memtest.h).
#include <cstdint>

#include "memory/registry.h"
#include "memory/traffic_generator.h"
#include "sim/memtest.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace npusim;
  static const System system = sim::dram_preset_system("HBM3-6400", "--dram HBM3-6400", {});
  static const uint64_t capacity =
      memory::MemoryRegistry::lookup(system.memory(), "memtest", "memory")
          .capacity_bytes(system.memory());
  const fuzz::TempFile file(data, size, ".trace");
  fuzz::expect_user_errors_only([&] {
    const auto source = memory::load_trace(file.path(), capacity);
    uint64_t bytes = 0;
    memory::TrafficRequest request;
    while (source->next(&request)) bytes += request.bytes;  // at most 2^30 each
    if (bytes > (uint64_t{16} << 20)) return;
    sim::MemtestOptions options;
    options.trace = file.path();
    (void)sim::run_memtest(system, options);
  });
  return 0;
}

// Writing reports: JSON with the proto field names (every field, 64-bit
// integers as numbers), and a terminal table.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "sim/report.pb.h"

namespace npusim::sim {

[[nodiscard]] std::string to_json(const google::protobuf::Message& message);
void write_json(const google::protobuf::Message& message, const std::string& path,
                const std::string& option);
void print_table(const Report& report, std::ostream& out);
// Tokens per second of a run (0 without tokens or time), and the share of
// the memory's peak bandwidth it used.
[[nodiscard]] double tokens_per_second(const Report& report);
[[nodiscard]] double bandwidth_share(const Report& report);
// How evenly a DRAM's channels carried data: the busiest and the least busy
// channel's share of time their data buses carried data (a hot spot hides
// in the mean); nullopt with one channel or no time.
struct ChannelSpread {
  double busiest = 0;
  uint32_t busiest_channel = 0;
  double least = 0;
};
[[nodiscard]] std::optional<ChannelSpread> channel_spread(const DramStats& dram);
// "busiest 91.0% (channel 17), least 12.3%"
[[nodiscard]] std::string format_spread(const ChannelSpread& spread);
// `v` with an SI prefix (K, M, G, ...) and `decimals` decimals: "1.234 GB".
[[nodiscard]] std::string si(double v, const char* unit, int decimals = 3);

}  // namespace npusim::sim

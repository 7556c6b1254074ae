// Writing reports: JSON with the proto field names (every field, 64-bit
// integers as numbers), and a terminal table.
#pragma once

#include <ostream>
#include <string>

#include "sim/report.pb.h"

namespace npusim::sim {

[[nodiscard]] std::string to_json(const google::protobuf::Message& message);
void write_json(const google::protobuf::Message& message, const std::string& path);
void print_table(const Report& report, std::ostream& out);

}  // namespace npusim::sim

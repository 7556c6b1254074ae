// Loading, overriding, defaulting and validating system configurations.
#pragma once

#include <string>
#include <vector>

#include "arch/dataflow.h"
#include "sim/system.pb.h"

namespace npusim::sim {

// Parses a text-format message; UserError "FILE:LINE:COL: message" on errors
// (unknown fields included).
void parse_textproto(const std::string& text, const std::string& where,
                     google::protobuf::Message* message);
void load_textproto(const std::string& path, google::protobuf::Message* message);

[[nodiscard]] bool has_suffix(const std::string& path, const std::string& suffix);
// A message from a file: binary protobuf when the name ends in .pb or
// .binpb, text format otherwise. UserError naming the file on bad input.
void load_message(const std::string& path, google::protobuf::Message* message);

// Applies "a.b.c=value" to `message` (any field, through nested messages and
// oneofs). UserError naming the override when the path or value is invalid.
void apply_override(const std::string& assignment, google::protobuf::Message* message);

// Fills absent optional fields with their documented defaults (system.proto).
void apply_defaults(System& system);

// Checks every constraint; UserError naming `where` and the field path.
void validate(const System& system, const std::string& where);

// The core's arrays as the timing model and the compiler see them.
[[nodiscard]] arch::ArrayShape array_shape(const System& system);

// Overrides + placement rules (--place, sim/memories.h: parse_place_rule;
// they go before the file's, in order) + defaults + validate, errors naming
// `where`.
[[nodiscard]] System complete_system(System system, const std::string& where,
                                     const std::vector<std::string>& sets,
                                     const std::vector<std::string>& places = {});
// Load + complete_system.
[[nodiscard]] System load_system(const std::string& path, const std::vector<std::string>& sets,
                                 const std::vector<std::string>& places = {});
// A system holding only a DRAM preset's memory (memtest --dram): parse +
// complete_system.
[[nodiscard]] System dram_preset_system(const std::string& preset, const std::string& where,
                                        const std::vector<std::string>& sets);

}  // namespace npusim::sim

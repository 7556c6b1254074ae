// Enforces the ranges the schemas declare ((range) field options,
// common/range.proto) and that every string is valid UTF-8.
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace npusim {

// Walks every field of `message` (recursing into set sub-messages and
// repeated elements): a numeric field with a declared range must be inside
// it, a double must be finite, a string must be valid UTF-8. A field with
// explicit presence that is absent is skipped (its default applies later).
// Throws UserError "<where>: <path>.<field>: must be between MIN and MAX
// (UNIT), not VALUE".
void check_ranges(const google::protobuf::Message& message, const std::string& where,
                  const std::string& path = "");

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or
// code points past U+10FFFF).
[[nodiscard]] bool valid_utf8(const std::string& text);

// The declared range of `field` as text, "between 1 and 4096 (PEs)", or ""
// when it declares none (for help text and docs).
[[nodiscard]] std::string describe_range(const google::protobuf::FieldDescriptor& field);

}  // namespace npusim

#include "common/ranges.h"

#include <fmt/format.h>

#include <cmath>

#include "common/error.h"
#include "common/range.pb.h"

namespace npusim {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string number(double v) {
  if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < 9.007199254740992e15) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

std::string bounds(const Range& r) {
  std::string text =
      r.exclusive_min()
          ? fmt::format("must be > {} and <= {}", number(r.min()), number(r.max()))
          : fmt::format("must be between {} and {}", number(r.min()), number(r.max()));
  if (!r.unit().empty()) text += " (" + r.unit() + ")";
  return text;
}

// Compares an integer with a bound given as a double without converting
// the integer (2^64-1 does not round-trip through a double).
template <typename Int>
bool inside(Int v, const Range& r) {
  const long double x = static_cast<long double>(v);  // exact for 64-bit on x86
  const long double lo = r.min();
  const long double hi = r.max();
  return (r.exclusive_min() ? x > lo : x >= lo) && x <= hi;
}

class Checker {
 public:
  explicit Checker(const std::string& where) : where_(where) {}

  void message(const Message& m, const std::string& path) const {
    const auto* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      const std::string name = path.empty() ? f->name() : path + "." + f->name();
      if (f->is_repeated()) {
        const int n = r->FieldSize(m, f);
        for (int k = 0; k < n; ++k) element(m, f, k, fmt::format("{}[{}]", name, k));
        continue;
      }
      if (f->has_presence() && !r->HasField(m, f)) continue;
      element(m, f, -1, name);
    }
  }

 private:
  // Field f of m (element k of a repeated field, or -1).
  void element(const Message& m, const FieldDescriptor* f, int k, const std::string& name) const {
    const Reflection* r = m.GetReflection();
    const bool has_range = f->options().HasExtension(range);
    const Range& declared = f->options().GetExtension(range);
    auto fail = [&](const std::string& value) {
      throw UserError(fmt::format("{}: {}: {}, not {}", where_, name, bounds(declared), value));
    };
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        message(k < 0 ? r->GetMessage(m, f) : r->GetRepeatedMessage(m, f, k), name);
        return;
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string s = k < 0 ? r->GetString(m, f) : r->GetRepeatedString(m, f, k);
        require(valid_utf8(s), where_, name, "is not valid UTF-8 text");
        return;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const double v = f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE
                             ? (k < 0 ? r->GetDouble(m, f) : r->GetRepeatedDouble(m, f, k))
                             : (k < 0 ? r->GetFloat(m, f) : r->GetRepeatedFloat(m, f, k));
        if (!std::isfinite(v)) {
          throw UserError(fmt::format("{}: {}: must be a finite number, not {}", where_, name, v));
        }
        if (has_range && !inside(static_cast<long double>(v), declared)) fail(number(v));
        return;
      }
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        const uint64_t v = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                               ? (k < 0 ? r->GetUInt32(m, f) : r->GetRepeatedUInt32(m, f, k))
                               : (k < 0 ? r->GetUInt64(m, f) : r->GetRepeatedUInt64(m, f, k));
        if (has_range && !inside(v, declared)) fail(fmt::format("{}", v));
        return;
      }
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64: {
        const int64_t v = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32
                              ? (k < 0 ? r->GetInt32(m, f) : r->GetRepeatedInt32(m, f, k))
                              : (k < 0 ? r->GetInt64(m, f) : r->GetRepeatedInt64(m, f, k));
        if (has_range && !inside(v, declared)) fail(fmt::format("{}", v));
        return;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
      case FieldDescriptor::CPPTYPE_ENUM:
        return;  // the parser admits only declared values
    }
  }

  const std::string& where_;
};

}  // namespace

void check_ranges(const Message& message, const std::string& where, const std::string& path) {
  Checker(where).message(message, path);
}

bool valid_utf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = s[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t j = 1; j < len; ++j) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string describe_range(const FieldDescriptor& field) {
  if (!field.options().HasExtension(range)) return "";
  return bounds(field.options().GetExtension(range)).substr(std::string("must be ").size());
}

}  // namespace npusim

// Reading: the header is parsed here, strictly, rather than with xtensor's
// reader, which allocates what a header's shape claims before it checks the
// file holds it and reads past empty fields of a malformed header. Writing:
// xtensor's dump_npy.
#include "sim/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <Eigen/Core>
#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>

#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/checked.h"
#include "common/error.h"
#include "common/file.h"
#include "sim/output_file.h"

namespace npusim::sim {
namespace {

constexpr uint64_t kMaxDims = 32;  // numpy's limit

// The header's dictionary: {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), } with any spacing and key order.
class Header {
 public:
  Header(std::string text, std::string where) : s_(std::move(text)), where_(std::move(where)) {}

  void parse(NpyArray* a, bool* fortran) {
    expect('{');
    bool descr = false, order = false, shape = false;
    while (true) {
      skip();
      if (peek() == '}') break;
      const std::string key = quoted("a key");
      expect(':');
      if (key == "descr" && !descr) {
        a->descr = quoted("descr");
        descr = true;
      } else if (key == "fortran_order" && !order) {
        *fortran = word() == "True";
        order = true;
      } else if (key == "shape" && !shape) {
        expect('(');
        while (true) {
          skip();
          if (peek() == ')') break;
          if (a->shape.size() == kMaxDims) fail("shape: more than 32 dimensions");
          a->shape.push_back(number());
          skip();
          if (peek() == ',') ++i_;
        }
        ++i_;
        shape = true;
      } else {
        fail(fmt::format("unexpected or repeated key '{}'", key));
      }
      skip();
      if (peek() == ',') ++i_;
    }
    if (!descr || !order || !shape) fail("needs 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(fmt::format("{}: npy header: {}", where_, what));
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() {
    if (i_ >= s_.size()) fail("ends early");
    return s_[i_];
  }
  void expect(char c) {
    skip();
    if (peek() != c) fail(fmt::format("expected '{}' at byte {}", c, i_));
    ++i_;
  }
  std::string quoted(const char* what) {
    skip();
    const char q = peek();
    if (q != '\'' && q != '"') fail(fmt::format("expected {} in quotes at byte {}", what, i_));
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return v;
  }
  std::string word() {
    skip();
    const size_t start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    std::string w = s_.substr(start, i_ - start);
    if (w != "True" && w != "False") fail("fortran_order: must be True or False");
    return w;
  }
  uint64_t number() {
    const size_t start = i_;
    uint64_t v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      const auto next =
          checked_add(checked_mul(v, 10).value_or(UINT64_MAX), static_cast<uint64_t>(s_[i_] - '0'));
      if (!next || *next > (uint64_t{1} << 40)) fail("shape: a dimension past 2^40");
      v = *next;
      ++i_;
    }
    if (i_ == start) fail(fmt::format("shape: expected a number at byte {}", i_));
    return v;
  }

  std::string s_;
  std::string where_;
  size_t i_ = 0;
};

[[noreturn]] void npy_fail(const std::string& path, const std::string& what) {
  throw UserError(fmt::format("{}: {}", path, what));
}

template <typename T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // little-endian hosts only (x86-64, aarch64)
  return v;
}

}  // namespace

NpyArray load_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  auto fail = [&](const std::string& what) { npy_fail(path, what); };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    fail("not a .npy file (no \\x93NUMPY magic)");
  }
  const auto major = static_cast<uint8_t>(bytes[6]);
  if (major < 1 || major > 3) fail(fmt::format("npy format version {} is not 1, 2 or 3", major));
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_bytes) fail("the header is cut short");
  const uint64_t header_len =
      major == 1 ? load_le<uint16_t>(bytes.data() + 8) : load_le<uint32_t>(bytes.data() + 8);
  const uint64_t data_start = 8 + len_bytes + header_len;
  if (data_start > bytes.size()) fail("the header is cut short");
  NpyArray a;
  bool fortran = false;
  Header(bytes.substr(8 + len_bytes, header_len), path).parse(&a, &fortran);
  if (fortran) fail("Fortran-order arrays are not taken (save with numpy.ascontiguousarray)");
  // descr: byte order, kind, size.
  const std::string& d = a.descr;
  const bool known = d.size() == 3 && (d[0] == '<' || d[0] == '|') &&
                     std::string("fiub").find(d[1]) != std::string::npos &&
                     std::string("1248").find(d[2]) != std::string::npos &&
                     !(d[1] == 'f' && d[2] == '1') && !(d[1] == 'b' && d[2] != '1');
  if (!known) {
    fail(
        fmt::format("descr '{}': only little-endian float (f2, f4, f8), integer (i/u 1-8) and "
                    "bool arrays are taken",
                    d));
  }
  const uint64_t word = static_cast<uint64_t>(d[2] - '0');
  uint64_t count = 1;
  for (uint64_t dim : a.shape) count = checked_mul(count, dim).value_or(UINT64_MAX);
  const uint64_t data = bytes.size() - data_start;
  if (count > data / word || count * word != data) {
    fail(fmt::format("shape ({}) of '{}' needs {} bytes of data, the file has {}",
                     fmt::join(a.shape, ", "), d,
                     count > data ? std::string("more") : std::to_string(count * word), data));
  }
  a.values.resize(count);
  const char* p = bytes.data() + data_start;
  for (uint64_t i = 0; i < count; ++i, p += word) {
    double v = 0;
    if (d[1] == 'f') {
      v = word == 2
              ? static_cast<double>(Eigen::numext::bit_cast<Eigen::half>(load_le<uint16_t>(p)))
          : word == 4 ? load_le<float>(p)
                      : load_le<double>(p);
      if (!std::isfinite(v)) fail(fmt::format("element {} is {} (inputs must be finite)", i, v));
    } else if (d[1] == 'i') {
      v = word == 1   ? static_cast<int8_t>(*p)
          : word == 2 ? load_le<int16_t>(p)
          : word == 4 ? load_le<int32_t>(p)
                      : static_cast<double>(load_le<int64_t>(p));
    } else {
      v = word == 1   ? static_cast<uint8_t>(*p)
          : word == 2 ? load_le<uint16_t>(p)
          : word == 4 ? load_le<uint32_t>(p)
                      : static_cast<double>(load_le<uint64_t>(p));
    }
    if (d[1] != 'f' && std::fabs(v) > 16777216.0) {
      fail(fmt::format("element {} is {:.0f}: past 2^24, which a float cannot hold exactly", i, v));
    }
    if (std::fabs(v) > std::numeric_limits<float>::max()) {
      fail(fmt::format("element {} is {:g}: past a float's range", i, v));
    }
    a.values[i] = static_cast<float>(v);
  }
  return a;
}

void save_npy(const std::string& path, const std::string& option,
              const std::vector<uint64_t>& shape, const std::vector<float>& values) {
  const std::vector<size_t> dims(shape.begin(), shape.end());
  write_output(path, option, xt::dump_npy(xt::adapt(values, dims)));
}

}  // namespace npusim::sim

#include "common/elements.h"

#include <fmt/format.h>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define NPUSIM_F16C 1
#endif

namespace npusim {
namespace {

#ifdef NPUSIM_F16C
// fp16 conversions eight at a time with the F16C instructions, when the
// processor has them (the same rounding, to nearest even, as Eigen::half's
// portable code, which the rest of the elements go through).
bool has_f16c() {
  static const bool yes = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
    const unsigned osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
    if ((c & (osxsave | avx | f16c)) != (osxsave | avx | f16c)) return false;
    unsigned lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u;  // the system saves the XMM and YMM registers
  }();
  return yes;
}

__attribute__((target("avx,f16c"))) uint64_t encode_f16c(const float* v, uint64_t n, uint8_t* out) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  return i;
}

__attribute__((target("avx,f16c"))) uint64_t decode_f16c(const uint8_t* in, uint64_t n,
                                                         float* out) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  return i;
}

__attribute__((target("avx,f16c"))) uint64_t round_f16c(float* v, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(v + i, _mm256_cvtph_ps(h));
  }
  return i;
}
#endif

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

int saturate(float x, int lo, int hi) {
  if (std::isnan(x)) return 0;
  return static_cast<int>(
      std::clamp(std::nearbyint(x), static_cast<float>(lo), static_cast<float>(hi)));
}

}  // namespace

void require_functional_dtype(DType dtype, const std::string& what) {
  switch (dtype) {
    case FP32:
    case FP16:
    case BF16:
    case INT8:
    case INT4:
      return;
    default:
      throw UserError(
          fmt::format("{}: functional mode does not compute in {}", what, DType_Name(dtype)));
  }
}

void decode_elements(DType dtype, const uint8_t* bytes, uint64_t count, float* out) {
  switch (dtype) {
    case FP32:
      std::memcpy(out, bytes, count * 4);
      return;
    case FP16: {
      uint64_t i = 0;
#ifdef NPUSIM_F16C
      if (has_f16c()) i = decode_f16c(bytes, count, out);
#endif
      for (; i < count; ++i) {
        out[i] =
            static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(load<uint16_t>(bytes + i * 2)));
      }
      return;
    }
    case BF16:
      for (uint64_t i = 0; i < count; ++i) {
        out[i] = static_cast<float>(
            Eigen::numext::bit_cast<Eigen::bfloat16>(load<uint16_t>(bytes + i * 2)));
      }
      return;
    case INT8:
      for (uint64_t i = 0; i < count; ++i) {
        out[i] = static_cast<float>(static_cast<int8_t>(bytes[i]));
      }
      return;
    case INT4:
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t e = i;
        const int nibble = (bytes[e / 2] >> (e % 2 * 4)) & 0xf;
        out[i] = static_cast<float>(nibble >= 8 ? nibble - 16 : nibble);
      }
      return;
    default:
      require_functional_dtype(dtype, "decode");
  }
}

void encode_elements(DType dtype, const float* values, uint64_t count, uint8_t* bytes) {
  switch (dtype) {
    case FP32:
      std::memcpy(bytes, values, count * 4);
      return;
    case FP16: {
      uint64_t i = 0;
#ifdef NPUSIM_F16C
      if (has_f16c()) i = encode_f16c(values, count, bytes);
#endif
      for (; i < count; ++i) {
        store(bytes + i * 2, Eigen::numext::bit_cast<uint16_t>(Eigen::half(values[i])));
      }
      return;
    }
    case BF16:
      for (uint64_t i = 0; i < count; ++i) {
        store(bytes + i * 2, Eigen::numext::bit_cast<uint16_t>(Eigen::bfloat16(values[i])));
      }
      return;
    case INT8:
      for (uint64_t i = 0; i < count; ++i) {
        bytes[i] = static_cast<uint8_t>(static_cast<int8_t>(saturate(values[i], -128, 127)));
      }
      return;
    case INT4:
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t e = i;
        const auto nibble = static_cast<uint8_t>(saturate(values[i], -8, 7) & 0xf);
        const int shift = static_cast<int>(e % 2 * 4);
        bytes[e / 2] = static_cast<uint8_t>((bytes[e / 2] & ~(0xf << shift)) | (nibble << shift));
      }
      return;
    default:
      require_functional_dtype(dtype, "encode");
  }
}

void round_elements(DType dtype, float* values, uint64_t count) {
  uint64_t i = 0;
#ifdef NPUSIM_F16C
  if (dtype == FP16 && has_f16c()) i = round_f16c(values, count);
#endif
  for (; i < count; ++i) values[i] = round_to(dtype, values[i]);
}

float round_to(DType dtype, float x) {
  switch (dtype) {
    case FP16:
      return static_cast<float>(Eigen::half(x));
    case BF16:
      return static_cast<float>(Eigen::bfloat16(x));
    case INT8:
      return static_cast<float>(saturate(x, -128, 127));
    case INT4:
      return static_cast<float>(saturate(x, -8, 7));
    default:
      return x;
  }
}

}  // namespace npusim

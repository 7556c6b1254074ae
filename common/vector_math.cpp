#include "common/vector_math.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace npusim {
namespace {

float silu(float x) {
  return x / (1.0f + std::exp(-x));
}

}  // namespace

bool is_unary(VectorKind kind) {
  switch (kind) {
    case COPY:
    case RELU:
    case SILU:
    case GELU:
    case GELU_TANH:
    case EXP:
    case SQRT:
    case TANH:
    case SIGMOID:
    case ERF:
      return true;
    default:
      return false;
  }
}

bool is_binary(VectorKind kind) {
  return kind == ADD || kind == SUB || kind == MUL || kind == DIV || kind == SWIGLU;
}

bool is_reduction(VectorKind kind) {
  return kind == REDUCE_SUM || kind == REDUCE_MEAN || kind == REDUCE_MAX;
}

float unary(VectorKind kind, float x) {
  switch (kind) {
    case RELU:
      return x > 0 ? x : 0.0f;
    case SILU:
      return silu(x);
    case GELU:
      return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
    case GELU_TANH: {
      const float k = 0.7978845608028654f;  // sqrt(2 / pi)
      return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    }
    case EXP:
      return std::exp(x);
    case SQRT:
      return std::sqrt(x);
    case TANH:
      return std::tanh(x);
    case SIGMOID:
      return 1.0f / (1.0f + std::exp(-x));
    case ERF:
      return std::erf(x);
    default:  // COPY
      return x;
  }
}

float binary(VectorKind kind, float a, float b) {
  switch (kind) {
    case SUB:
      return a - b;
    case MUL:
      return a * b;
    case DIV:
      return a / b;
    case SWIGLU:
      return silu(a) * b;
    default:  // ADD
      return a + b;
  }
}

float reduce(VectorKind kind, const float* x, uint64_t n) {
  if (kind == REDUCE_MAX) return *std::max_element(x, x + n);
  const float sum = std::accumulate(x, x + n, 0.0f);
  return kind == REDUCE_MEAN ? sum / static_cast<float>(n) : sum;
}

void softmax(const float* x, uint64_t n, float scale, uint64_t valid, float* out) {
  valid = std::min(valid, n);
  const float mx = valid == 0 ? 0.0f : *std::max_element(x, x + valid) * scale;
  float sum = 0;
  for (uint64_t i = 0; i < valid; ++i) sum += out[i] = std::exp(x[i] * scale - mx);
  for (uint64_t i = 0; i < valid; ++i) out[i] /= sum;
  std::fill(out + valid, out + n, 0.0f);
}

float online_softmax(const float* x, uint64_t n, float scale, uint64_t valid, float& m, float& l,
                     float* out) {
  valid = std::min(valid, n);
  float mx = m;
  for (uint64_t i = 0; i < valid; ++i) mx = std::max(mx, x[i] * scale);
  // No valid key yet (m' = -inf): nothing accumulated, nothing to rescale.
  const float alpha = std::isinf(mx) ? 1.0f : std::exp(m - mx);
  float sum = 0;
  for (uint64_t i = 0; i < valid; ++i) sum += out[i] = std::exp(x[i] * scale - mx);
  std::fill(out + valid, out + n, 0.0f);
  l = l * alpha + sum;
  m = mx;
  return alpha;
}

void rms_norm(const float* x, const float* gain, uint64_t n, float eps, float* out) {
  float squares = 0;
  for (uint64_t i = 0; i < n; ++i) squares += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(squares / static_cast<float>(n) + eps);
  for (uint64_t i = 0; i < n; ++i) out[i] = x[i] * inv * gain[i];
}

void rope(const float* x, uint64_t n, float theta, uint64_t position, float* out) {
  const uint64_t half = n / 2;
  for (uint64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(position) *
                         std::pow(static_cast<double>(theta),
                                  -2.0 * static_cast<double>(i) / static_cast<double>(n));
    const auto c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    out[i] = x[i] * c - x[i + half] * s;
    out[i + half] = x[i + half] * c + x[i] * s;
  }
}

void layer_norm(const float* x, const float* gain, const float* bias, uint64_t n, float eps,
                float* out) {
  const float mean = std::accumulate(x, x + n, 0.0f) / static_cast<float>(n);
  float var = 0;
  for (uint64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  for (uint64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * gain[i] + bias[i];
}

}  // namespace npusim

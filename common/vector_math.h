// The math of the vector unit's operations (arch/isa.proto VectorOp), on
// fp32 values: what functional mode computes for each instruction and what
// the reference interpreter (compiler/reference) computes for each graph op,
// so that the two differ only in how the work is tiled and where it lies.
#pragma once

#include <cstdint>

#include "arch/isa.pb.h"

namespace npusim {

// Elementwise kinds of one input (COPY, RELU, SILU, GELU (erf form), EXP,
// SQRT, TANH, SIGMOID, ERF) and of two (ADD, SUB, MUL, DIV, SWIGLU: silu(a) * b).
[[nodiscard]] bool is_unary(VectorKind kind);
[[nodiscard]] bool is_binary(VectorKind kind);
[[nodiscard]] float unary(VectorKind kind, float x);
[[nodiscard]] float binary(VectorKind kind, float a, float b);

// REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX of n values.
[[nodiscard]] bool is_reduction(VectorKind kind);
[[nodiscard]] float reduce(VectorKind kind, const float* x, uint64_t n);

// One row of n values into out.
// softmax(scale * x) over the first `valid` of n values; the rest are 0 (a
// causal mask).
void softmax(const float* x, uint64_t n, float scale, uint64_t valid, float* out);
void rms_norm(const float* x, const float* gain, uint64_t n, float eps, float* out);
// One block of an online softmax (flash attention): the first `valid` of n
// scores x, times `scale`, update the running maximum m and sum l; out[i] =
// exp(scale * x[i] - m') (0 past `valid`); returns alpha = exp(m - m'), the
// factor the output accumulated so far is rescaled by.
float online_softmax(const float* x, uint64_t n, float scale, uint64_t valid, float& m, float& l,
                     float* out);
// Rotary embedding of one head of n (even) values at `position`.
void rope(const float* x, uint64_t n, float theta, uint64_t position, float* out);
void layer_norm(const float* x, const float* gain, const float* bias, uint64_t n, float eps,
                float* out);

}  // namespace npusim

// SPDX-License-Identifier: Apache-2.0
#pragma once
// Field elements' centered values (c = x - p for x > p/2, else x) read from their raw 64-bit words
// in branch-free loops compiled for AVX-512, AVX2 and the baseline (core/simd/x86.hpp). The input
// binding's compact encoding (compact_encode.cpp) runs on every input element the verifier reads;
// the cpu engine's first convolution cuts the same input into int16 planes and measures its width
// (kernels/cpu/structured_limbs.hpp, op_output.hpp). Elements are read as their words, low first
// (little-endian hosts only: callers keep a portable path for the others).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "core/fields.hpp"

namespace nnproof {

// Whether the word loops below apply on this host, and to F (the base fields m61 and m127).
inline constexpr bool kCenteredWords = std::endian::native == std::endian::little;
template <class F>
inline constexpr bool kCenteredWordsOf = kCenteredWords && (std::is_same_v<F, Fp61> || std::is_same_v<F, Fp127>);

// out[i] = c_i truncated to T (int8, int16, int32 or int64: c_i mod 2^(8 sizeof(T)), for every
// element) for i < n. Returns the OR of |c_i| - [c_i < 0] over the elements that fit 64 bits:
// every c_i fits w bytes iff it is below 2^(8w - 1). F = Fp127: *wide is nonzero iff some c_i does
// not fit 64 bits (its share of the OR means nothing); F = Fp61 sets it to 0.
template <class F, class T>
std::uint64_t encode_centered(const F* x, std::size_t n, T* out, std::uint64_t* wide);

// The ORs over n elements of their representatives in [0, p) and of their magnitudes |c_i|: the
// bit length of an OR is that of its largest value (op_output.hpp's ValueWidth).
struct ValueOrs {
  u128 raw = 0, magnitude = 0;
};
template <class F>
ValueOrs value_ors(const F* x, std::size_t n);

}  // namespace nnproof

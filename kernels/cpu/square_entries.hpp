// SPDX-License-Identifier: Apache-2.0
#pragma once
// The entrywise square Y = Z o Z as the cpu engine computes it: a table at once (square_table), or
// one entry where a pass reads Z in place of Y (the sum pool of squares, structured_cpu.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "core/fields.hpp"
#include "kernels/cpu/m61_kernels.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// z^2. For m127 an entry whose centered value m = +-z is below 2^64 (a CNN's first Z is below
// 2^26, and the zeros at the pow2 layout's padding and the padded columns) is one 64 x 64-bit
// product, m^2 < 2^128 folded by from_u128; wider ones the field's four-product multiply.
template <class F>
F square_entry(F z) {
  if constexpr (std::is_same_v<F, Fp127>) {
    const u128 m = z.v > (F::P >> 1) ? F::P - z.v : z.v;
    const auto m64 = static_cast<std::uint64_t>(m);
    return m >> 64 ? z * z : F::from_u128(static_cast<u128>(m64) * m64);
  } else {
    return z * z;
  }
}

// y[i] = z[i]^2 for i < n, in parallel (m61: its vector kernel).
template <class F>
void square_table(const F* z, F* y, std::size_t n) {
  if constexpr (std::is_same_v<F, Fp61>) {
    constexpr std::size_t kChunk = 4096;
    parallel_for((n + kChunk - 1) / kChunk, [&](std::size_t c) {
      const std::size_t i = c * kChunk;
      m61_square_entries(z + i, y + i, std::min(kChunk, n - i));
    });
  } else {
    parallel_for(n, [&](std::size_t i) { y[i] = square_entry(z[i]); });
  }
}

// sums[k] += |x[k]|^2 for k < n, |x[k]| the centered magnitude (x read in (-p/2, p/2)), in 64-bit
// integers; returns 0 when every |x[k]| < 2^bits (bits <= 32, so the squares are exact), else
// nonzero (and the sums are then meaningless). Vectorized (square_entries.cpp).
std::uint64_t add_narrow_squares(const Fp61* x, std::size_t n, unsigned bits, std::uint64_t* sums);
std::uint64_t add_narrow_squares(const Fp127* x, std::size_t n, unsigned bits, std::uint64_t* sums);

// The same in 128-bit integers for |x[k]| < 2^bits, bits <= 63: one 64 x 64-bit product a value
// and one reduction an output, where the field path reduced and added each square (a CNN's second
// Z is past the narrow bound).
std::uint64_t add_wide_squares(const Fp61* x, std::size_t n, unsigned bits, u128* sums);
std::uint64_t add_wide_squares(const Fp127* x, std::size_t n, unsigned bits, u128* sums);

// The overloads by the sums' type, for code written once for both widths.
template <class F>
std::uint64_t add_squares_below(const F* x, std::size_t n, unsigned bits, std::uint64_t* sums) {
  return add_narrow_squares(x, n, bits, sums);
}
template <class F>
std::uint64_t add_squares_below(const F* x, std::size_t n, unsigned bits, u128* sums) {
  return add_wide_squares(x, n, bits, sums);
}

}  // namespace nnproof

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

// The centered magnitude |z| of z (z read in (-p/2, p/2)) where it is below 2^64 (else any value),
// and in `wide` the bits of it at or above 2^bits (with those of the rest of |z| when p > 2^64).
// Branch-free u64 arithmetic, so that a loop over a row vectorizes: for m127, z > p/2 is bit 126 of
// z and p - z its 127-bit complement; for m61, bit 60 and the 61-bit complement.
template <class F>
std::uint64_t narrow_magnitude(F z, unsigned bits, std::uint64_t& wide) {
  if constexpr (F::kBits == 127) {
    const auto lo = static_cast<std::uint64_t>(z.v), hi = static_cast<std::uint64_t>(z.v >> 64);
    const std::uint64_t negative = std::uint64_t{0} - ((hi >> 62) & 1);
    const std::uint64_t m_lo = lo ^ negative, m_hi = (hi ^ negative) & ((std::uint64_t{1} << 63) - 1);
    wide |= m_hi | (m_lo >> bits);
    return m_lo;
  } else {
    static_assert(F::kBits == 61);
    const std::uint64_t negative = std::uint64_t{0} - ((z.v >> 60) & 1);
    const std::uint64_t m = (z.v ^ negative) & F::P;
    wide |= m >> bits;
    return m;
  }
}

}  // namespace nnproof

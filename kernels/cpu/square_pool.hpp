// SPDX-License-Identifier: Apache-2.0
#pragma once
// Vector kernels of the sum pool of a narrow table's squares (narrow_forward.hpp), compiled for
// AVX-512 and AVX2 beside a portable build (target clones): the pool's template loops, compiled
// for the baseline, squared 64-bit lanes in SSE2 (CIFAR-size's second and third layers: 5 and
// 6 ms of a 75 ms proof at batch 256).
#include <cstddef>
#include <cstdint>

namespace nnproof {

// sums[k] += x[k]^2 for k < m, mod 2^64 (exact where the caller's bound keeps the sums below 2^64).
void add_squares_u64(const std::int32_t* x, std::size_t m, std::uint64_t* sums);

// A sum of squares of int64 entries |x| < 2^kSquareHalvesBits, at most kSquareHalvesTaps of them,
// kept as three 64-bit sums of the products of |x|'s 31-bit halves |x| = a1 2^31 + a0:
// lo = sum a0^2 (< 4 2^62), mid = sum a0 a1 (< 4 2^60), hi = sum a1^2 (< 4 2^58), the sum itself
// lo + mid 2^32 + hi 2^62 (< 2^124): every lane a 32 x 32-bit product, where the sum as such is a
// 128-bit one.
inline constexpr unsigned kSquareHalvesBits = 60;
inline constexpr std::size_t kSquareHalvesTaps = 4;
struct SquareHalvesSums {
  std::uint64_t *lo, *mid, *hi;
};

// The sums of samples k < m plus x[k]^2 (their `lo`, `mid`, `hi` zero before the first entry).
void add_square_halves(const std::int64_t* x, std::size_t m, const SquareHalvesSums& s);

// The low n 31-bit limbs of sample k's sum, k < m, at limbs[l limb_stride + k], for n = 1..4 (four
// hold the sum: it is below 2^124; any other n is a std::logic_error).
void cut_square_halves(const SquareHalvesSums& s, std::size_t m, unsigned n, std::int32_t* limbs,
                       std::size_t limb_stride);

}  // namespace nnproof

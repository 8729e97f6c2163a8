// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/square_entries.hpp"

#include <algorithm>

#include "core/simd/x86.hpp"

namespace nnproof {

// Branch-free u64 arithmetic on local arrays, so that the loops vectorize (a u128 in a loop does
// not; neither does a loop whose bound or flag may alias the u64 sums). The centered magnitude of
// z: for m61, z > p/2 is bit 60 of z and p - z its 61-bit complement; for m127, bit 126 and the
// 127-bit complement, whose low word is the complement of z's and whose high word must be zero.

NNP_CLONES_V4_V3 std::uint64_t add_narrow_squares(const Fp61* x, std::size_t n, unsigned bits, std::uint64_t* sums) {
  std::uint64_t wide = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t v = x[k].v, negative = std::uint64_t{0} - ((v >> 60) & 1);
    const std::uint64_t m = (v ^ negative) & Fp61::P;
    wide |= m >> bits;
    sums[k] += m * m;
  }
  return wide;
}

NNP_CLONES_V4_V3 std::uint64_t add_narrow_squares(const Fp127* x, std::size_t n, unsigned bits, std::uint64_t* sums) {
  constexpr std::size_t kBlock = 64;
  constexpr std::uint64_t kLow63 = (std::uint64_t{1} << 63) - 1;
  std::uint64_t wide = 0;
  for (std::size_t k0 = 0; k0 < n; k0 += kBlock) {
    const std::size_t len = std::min(kBlock, n - k0);
    std::uint64_t lo[kBlock], hi[kBlock];
    for (std::size_t i = 0; i < len; ++i) {
      const u128 v = x[k0 + i].v;
      lo[i] = static_cast<std::uint64_t>(v), hi[i] = static_cast<std::uint64_t>(v >> 64);
    }
    std::uint64_t* sum = sums + k0;
    for (std::size_t i = 0; i < len; ++i) {
      const std::uint64_t negative = std::uint64_t{0} - ((hi[i] >> 62) & 1);
      const std::uint64_t m = lo[i] ^ negative;
      wide |= ((hi[i] ^ negative) & kLow63) | (m >> bits);
      sum[i] += m * m;
    }
  }
  return wide;
}

std::uint64_t add_wide_squares(const Fp61* x, std::size_t n, unsigned bits, u128* sums) {
  std::uint64_t wide = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t v = x[k].v, negative = std::uint64_t{0} - ((v >> 60) & 1);
    const std::uint64_t m = (v ^ negative) & Fp61::P;
    wide |= m >> bits;
    sums[k] += static_cast<u128>(m) * m;
  }
  return wide;
}

std::uint64_t add_wide_squares(const Fp127* x, std::size_t n, unsigned bits, u128* sums) {
  constexpr std::uint64_t kLow63 = (std::uint64_t{1} << 63) - 1;
  std::uint64_t wide = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const u128 v = x[k].v;
    const auto lo = static_cast<std::uint64_t>(v), hi = static_cast<std::uint64_t>(v >> 64);
    const std::uint64_t negative = std::uint64_t{0} - ((hi >> 62) & 1);
    const std::uint64_t m = lo ^ negative;
    wide |= ((hi ^ negative) & kLow63) | (m >> bits);
    sums[k] += static_cast<u128>(m) * m;
  }
  return wide;
}

}  // namespace nnproof

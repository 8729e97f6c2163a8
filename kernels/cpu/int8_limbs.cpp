// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/int8_limbs.hpp"

#include <algorithm>

#include "core/simd/x86.hpp"

namespace nnproof {

namespace {
template <std::size_t kLimbs, class F>
void split_transposed(const F* y, std::size_t y_stride, std::size_t j0, std::size_t j1, std::size_t width,
                      std::size_t inner, std::int8_t* lt) {
  // Eight columns of Y at a time: row j's eight entries are one cache line, copied into a local
  // block column by column, whose limbs are then written along j (contiguous, vectorized), the
  // j loop inside so that each of the 64 (or 128) limb rows being written is a forward stream.
  constexpr std::size_t kCols = 8, kMaxRows = 64, kWords = (kLimbs + 7) / 8;
  // Each value as 64-bit words (two for m127): shifts of 64-bit lanes vectorize, 128-bit ones do not.
  std::uint64_t block[kWords][kCols][kMaxRows];
  for (std::size_t kb = 0; kb < width; kb += kCols) {
    const std::size_t cols = std::min(width, kb + kCols) - kb;
    for (std::size_t jb = j0; jb < j1; jb += kMaxRows) {  // each limb row written in order
      const std::size_t rows = std::min(j1, jb + kMaxRows) - jb;
      for (std::size_t j = 0; j < rows; ++j)
        for (std::size_t c = 0; c < cols; ++c) {
          const u128 v = static_cast<u128>(y[(jb + j) * y_stride + kb + c].v);
          for (std::size_t w = 0; w < kWords; ++w) block[w][c][j] = static_cast<std::uint64_t>(v >> (64 * w));
        }
      for (std::size_t c = 0; c < cols; ++c)
        for (std::size_t l = 0; l < kLimbs; ++l) {
          std::int8_t* row = lt + (l * width + kb + c) * inner + jb;
          const std::uint64_t* word = block[l / 8][c];
          const unsigned shift = 8 * static_cast<unsigned>(l % 8);
          for (std::size_t j = 0; j < rows; ++j)  // byte ^ 0x80 read as int8 is byte - 128
            row[j] = static_cast<std::int8_t>(static_cast<std::uint8_t>(word[j] >> shift) ^ 0x80u);
        }
    }
  }
}
}  // namespace

NNP_CLONES_V4_V3 void split_limbs_transposed(const Fp61* y, std::size_t y_stride, std::size_t j0, std::size_t j1,
                                             std::size_t width, std::size_t inner, std::int8_t* lt) {
  split_transposed<kM61Limbs>(y, y_stride, j0, j1, width, inner, lt);
}

NNP_CLONES_V4_V3 void split_limbs_transposed(const Fp127* y, std::size_t y_stride, std::size_t j0, std::size_t j1,
                                             std::size_t width, std::size_t inner, std::int8_t* lt) {
  split_transposed<kM127Limbs>(y, y_stride, j0, j1, width, inner, lt);
}

// Four limbs as one signed 64-bit value: |sum_{i<4} 2^(8 i) g_i| < 2^31 (1 + 2^8 + 2^16 + 2^24) < 2^56.
static inline std::int64_t four_limbs(const std::int32_t* g, std::size_t width, std::size_t k) {
  return static_cast<std::int64_t>(g[k]) + (static_cast<std::int64_t>(g[width + k]) << 8) +
         (static_cast<std::int64_t>(g[2 * width + k]) << 16) + (static_cast<std::int64_t>(g[3 * width + k]) << 24);
}

NNP_CLONES_V4_V3 void recombine_limbs(const std::int32_t* g, std::size_t limb_stride, std::size_t n, const Fp61* bias,
                                      Fp61* z) {
  constexpr std::uint64_t P = Fp61::P;
  for (std::size_t i = 0; i < n; ++i) {
    // Z = lo + 2^32 hi with |lo|, |hi| < 2^56 < p: adding p makes each a representative in (0, 2p).
    const std::uint64_t lo = static_cast<std::uint64_t>(four_limbs(g, limb_stride, i) + static_cast<std::int64_t>(P));
    const std::uint64_t hi =
        static_cast<std::uint64_t>(four_limbs(g + 4 * limb_stride, limb_stride, i) + static_cast<std::int64_t>(P));
    // 2^32 hi = 2^32 (hi mod 2^29) + 2^61 (hi >> 29) = 2^32 (hi mod 2^29) + (hi >> 29)  (mod p).
    const std::uint64_t shifted = ((hi & ((std::uint64_t{1} << 29) - 1)) << 32) + (hi >> 29);
    std::uint64_t x = lo + shifted + bias[i].v;  // < 2^62 + (2^61 + 2^33) + 2^61 < 2^64
    x = (x & P) + (x >> 61);                     // < 2^61 + 4
    z[i].v = x >= P ? x - P : x;
  }
}

// recombine_limbs_u64 for kL bytes: every shift a constant, so the loop over i vectorizes (with L a
// variable, GCC left it scalar: a third of the join's time).
template <std::size_t kL>
inline void recombine_bytes_u64(const std::int32_t* g, std::size_t limb_stride, std::size_t n, std::uint64_t* z) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v = 0;
    for (std::size_t l = 0; l < kL; ++l)
      v += static_cast<std::uint64_t>(static_cast<std::int64_t>(g[l * limb_stride + i])) << (8 * l);
    z[i] = v;
  }
}

NNP_CLONES_V4_V3 void recombine_limbs_u64(const std::int32_t* g, std::size_t limb_stride, std::size_t L, std::size_t n,
                                          std::uint64_t* z) {
  switch (std::min<std::size_t>(L, 8)) {
    case 1:
      return recombine_bytes_u64<1>(g, limb_stride, n, z);
    case 2:
      return recombine_bytes_u64<2>(g, limb_stride, n, z);
    case 3:
      return recombine_bytes_u64<3>(g, limb_stride, n, z);
    case 4:
      return recombine_bytes_u64<4>(g, limb_stride, n, z);
    case 5:
      return recombine_bytes_u64<5>(g, limb_stride, n, z);
    case 6:
      return recombine_bytes_u64<6>(g, limb_stride, n, z);
    case 7:
      return recombine_bytes_u64<7>(g, limb_stride, n, z);
    default:
      return recombine_bytes_u64<8>(g, limb_stride, n, z);
  }
}

NNP_CLONES_V4_V3 void recombine_limbs(const std::int32_t* g, std::size_t limb_stride, std::size_t n, const Fp127* bias,
                                      Fp127* z) {
  // Z = d0 + 2^32 d1 + 2^64 d2 + 2^96 d3 with d_m = P_m + digit m of the bias, |P_m| < 2^56 (four
  // limbs each): int64 digits in radix 2^32, the top one signed, carried up and folded with
  // 2^127 = 1 (mod p) until Z is in [0, 2^127), then p itself sent to 0. Branch-free int64 work that
  // vectorizes, in chunks whose 128-bit entries are read and written by scalar loops around it.
  constexpr std::size_t kChunk = 16;
  constexpr std::int64_t kMask32 = 0xFFFFFFFF, kMask31 = 0x7FFFFFFF;
  const auto carry = [&](std::int64_t& d0, std::int64_t& d1, std::int64_t& d2, std::int64_t& d3) {
    d1 += d0 >> 32, d0 &= kMask32;  // arithmetic shifts: a negative digit borrows from the next
    d2 += d1 >> 32, d1 &= kMask32;
    d3 += d2 >> 32, d2 &= kMask32;
  };
  for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
    const std::size_t m = std::min(kChunk, n - i0);
    std::int64_t b[4][kChunk];
    for (std::size_t i = 0; i < m; ++i)
      for (unsigned d = 0; d < 4; ++d) b[d][i] = static_cast<std::int64_t>((bias[i0 + i].v >> (32 * d)) & kMask32);
    std::uint64_t lo[kChunk], hi[kChunk];
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t k = i0 + i;
      std::int64_t d0 = four_limbs(g, limb_stride, k) + b[0][i];
      std::int64_t d1 = four_limbs(g + 4 * limb_stride, limb_stride, k) + b[1][i];
      std::int64_t d2 = four_limbs(g + 8 * limb_stride, limb_stride, k) + b[2][i];
      std::int64_t d3 = four_limbs(g + 12 * limb_stride, limb_stride, k) + b[3][i];
      carry(d0, d1, d2, d3);  // d0..d2 in [0, 2^32), |d3| < 2^58
      d0 += d3 >> 31, d3 &= kMask31;
      carry(d0, d1, d2, d3);  // Z in (-2^27, 2^127 + 2^27): d3 in [-1, 2^31]
      // d3 >> 31 is -1 only when Z < 0 (then Z + 2^127 - 1 >= 0) and +1 only when Z - 2^127 < 2^27
      // (then adding 1 carries nowhere): one more fold ends in [0, 2^127).
      d0 += d3 >> 31, d3 &= kMask31;
      carry(d0, d1, d2, d3);
      const std::uint64_t l = static_cast<std::uint64_t>(d0) | (static_cast<std::uint64_t>(d1) << 32);
      const std::uint64_t h = static_cast<std::uint64_t>(d2) | (static_cast<std::uint64_t>(d3) << 32);
      const bool is_p = l == ~std::uint64_t{0} && h == (~std::uint64_t{0} >> 1);
      lo[i] = is_p ? 0 : l;
      hi[i] = is_p ? 0 : h;
    }
    for (std::size_t i = 0; i < m; ++i) z[i0 + i].v = (static_cast<u128>(hi[i]) << 64) | lo[i];
  }
}

}  // namespace nnproof

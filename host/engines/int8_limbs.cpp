#include "host/engines/int8_limbs.hpp"

#include <algorithm>

namespace nnproof {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNP_LIMB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNP_LIMB_CLONES
#endif

namespace {
template <std::size_t kLimbs, class F>
void split_transposed(const F* y, std::size_t y_stride, std::size_t j0, std::size_t j1, std::size_t width,
                      std::size_t inner, std::int8_t* lt) {
  // Eight columns of Y at a time: row j's eight entries are one cache line, copied into a local
  // block column by column, whose limbs are then written along j (contiguous, vectorized), the
  // j loop inside so that each of the 64 (or 128) limb rows being written is a forward stream.
  constexpr std::size_t kCols = 8, kMaxRows = 64;
  using Raw = decltype(F::v);
  Raw block[kCols][kMaxRows];
  for (std::size_t kb = 0; kb < width; kb += kCols) {
    const std::size_t cols = std::min(width, kb + kCols) - kb;
    for (std::size_t jb = j0; jb < j1; jb += kMaxRows) {  // each limb row written in order
      const std::size_t rows = std::min(j1, jb + kMaxRows) - jb;
      for (std::size_t j = 0; j < rows; ++j)
        for (std::size_t c = 0; c < cols; ++c) block[c][j] = y[(jb + j) * y_stride + kb + c].v;
      for (std::size_t c = 0; c < cols; ++c)
        for (std::size_t l = 0; l < kLimbs; ++l) {
          std::int8_t* row = lt + (l * width + kb + c) * inner + jb;
          const unsigned shift = 8 * static_cast<unsigned>(l);
          for (std::size_t j = 0; j < rows; ++j)  // byte ^ 0x80 read as int8 is byte - 128
            row[j] = static_cast<std::int8_t>(static_cast<std::uint8_t>(block[c][j] >> shift) ^ 0x80u);
        }
    }
  }
}
}  // namespace

NNP_LIMB_CLONES void split_limbs_transposed(const Fp61* y, std::size_t y_stride, std::size_t j0, std::size_t j1,
                                            std::size_t width, std::size_t inner, std::int8_t* lt) {
  split_transposed<kM61Limbs>(y, y_stride, j0, j1, width, inner, lt);
}

NNP_LIMB_CLONES void split_limbs_transposed(const Fp127* y, std::size_t y_stride, std::size_t j0, std::size_t j1,
                                            std::size_t width, std::size_t inner, std::int8_t* lt) {
  split_transposed<kM127Limbs>(y, y_stride, j0, j1, width, inner, lt);
}

// Four limbs as one signed 64-bit value: |sum_{i<4} 2^(8 i) g_i| < 2^31 (1 + 2^8 + 2^16 + 2^24) < 2^56.
static inline std::int64_t four_limbs(const std::int32_t* g, std::size_t width, std::size_t k) {
  return static_cast<std::int64_t>(g[k]) + (static_cast<std::int64_t>(g[width + k]) << 8) +
         (static_cast<std::int64_t>(g[2 * width + k]) << 16) + (static_cast<std::int64_t>(g[3 * width + k]) << 24);
}

NNP_LIMB_CLONES void recombine_limbs(const std::int32_t* g, std::size_t limb_stride, std::size_t n, const Fp61* bias,
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

void recombine_limbs(const std::int32_t* g, std::size_t limb_stride, std::size_t n, const Fp127* bias, Fp127* z) {
  for (std::size_t k = 0; k < n; ++k) {
    // Z = P0 + 2^32 P1 + 2^64 P2 + 2^96 P3, each |P_i| < 2^56 (four limbs). The first three sum
    // exactly in 128 bits (|lo| < 2^121). With P3 = 2^31 t + u, 0 <= u < 2^31 (t = P3 >> 31, signed):
    // 2^96 P3 = 2^96 u + 2^127 t = 2^96 u + t (mod p).
    const i128 lo = static_cast<i128>(four_limbs(g, limb_stride, k)) +
                    (static_cast<i128>(four_limbs(g + 4 * limb_stride, limb_stride, k)) << 32) +
                    (static_cast<i128>(four_limbs(g + 8 * limb_stride, limb_stride, k)) << 64);
    const std::int64_t p3 = four_limbs(g + 12 * limb_stride, limb_stride, k);
    const std::int64_t t = p3 >> 31, u = p3 & ((std::int64_t{1} << 31) - 1);
    const Fp127 low = Fp127::from_i128(lo + t);                       // |lo + t| < 2^122
    const Fp127 high = Fp127::from_u128(static_cast<u128>(u) << 96);  // < 2^127
    z[k] = low + high + bias[k];
  }
}

}  // namespace nnproof

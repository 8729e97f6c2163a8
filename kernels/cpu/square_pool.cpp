// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/square_pool.hpp"

#include <stdexcept>

#include "core/simd/x86.hpp"

namespace nnproof {

NNP_CLONES_V4_V3 void add_squares_u64(const std::int32_t* x, std::size_t m, std::uint64_t* sums) {
  for (std::size_t k = 0; k < m; ++k) {
    const std::int64_t v = x[k];  // a signed 32 x 32-bit product (vpmuldq)
    sums[k] += static_cast<std::uint64_t>(v * v);
  }
}

NNP_CLONES_V4_V3 void add_square_halves(const std::int64_t* x, std::size_t m, const SquareHalvesSums& s) {
  std::uint64_t *lo = s.lo, *mid = s.mid, *hi = s.hi;
  for (std::size_t k = 0; k < m; ++k) {
    const std::int64_t v = x[k];
    const auto a = static_cast<std::uint64_t>(v < 0 ? -v : v);
    // Both below 2^32 (a1 below 2^29: the mask only tells the compiler so, for vpmuludq).
    const std::uint64_t a0 = a & 0x7FFFFFFF, a1 = (a >> 31) & 0xFFFFFFFF;
    lo[k] += a0 * a0;
    mid[k] += a0 * a1;
    hi[k] += a1 * a1;
  }
}

namespace {
// cut_square_halves for n limbs, the loop free of tests on n (each limb row its own store stream).
template <unsigned N>
inline void cut_halves(const SquareHalvesSums& s, std::size_t m, std::int32_t* limbs, std::size_t limb_stride) {
  constexpr std::uint64_t kMask31 = 0x7FFFFFFF;
  const std::uint64_t *lo = s.lo, *mid = s.mid, *hi = s.hi;
  std::int32_t *l0 = limbs, *l1 = limbs + limb_stride, *l2 = limbs + 2 * limb_stride, *l3 = limbs + 3 * limb_stride;
  // lo + 2 mid 2^31 + hi 2^62 carried up 31 bits at a time: t1 < 2^33 + 2^63, t2 < 2^32 + 2^60.
  for (std::size_t k = 0; k < m; ++k) {
    const std::uint64_t t1 = (lo[k] >> 31) + 2 * mid[k], t2 = (t1 >> 31) + hi[k];
    l0[k] = static_cast<std::int32_t>(lo[k] & kMask31);
    if constexpr (N > 1) l1[k] = static_cast<std::int32_t>(t1 & kMask31);
    if constexpr (N > 2) l2[k] = static_cast<std::int32_t>(t2 & kMask31);
    if constexpr (N > 3) l3[k] = static_cast<std::int32_t>(t2 >> 31);  // < 2^30
  }
}
}  // namespace

NNP_CLONES_V4_V3 void cut_square_halves(const SquareHalvesSums& s, std::size_t m, unsigned n, std::int32_t* limbs,
                                        std::size_t limb_stride) {
  if (n == 0 || n > 4) throw std::logic_error("cut_square_halves: the sums need 1 to 4 limbs");
  switch (n) {
    case 1:
      return cut_halves<1>(s, m, limbs, limb_stride);
    case 2:
      return cut_halves<2>(s, m, limbs, limb_stride);
    case 3:
      return cut_halves<3>(s, m, limbs, limb_stride);
    default:  // 4
      return cut_halves<4>(s, m, limbs, limb_stride);
  }
}

}  // namespace nnproof

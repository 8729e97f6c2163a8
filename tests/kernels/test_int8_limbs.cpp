// SPDX-License-Identifier: Apache-2.0
// The int8 forward's transposed limb split and recombination (m61: 8 limbs, m127: 16) against
// references in the field: lengths that are not multiples of any vector or block length, the
// fields' edge values, and every int32 product extreme. (Each function runs the clone that this CPU selects; the
// cross-engine tests cover the rest of the route.)
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/cpu/int8_limbs.hpp"

namespace nnproof {
namespace {

template <class F>
struct Limbs;
template <>
struct Limbs<Fp61> {
  static constexpr std::size_t kCount = kM61Limbs;
  static std::vector<u128> edges() {
    return {0, 1, 127, 128, 255, 256, Fp61::P - 1, Fp61::P - 128, u128{1} << 60, (u128{1} << 56) - 1};
  }
};
template <>
struct Limbs<Fp127> {
  static constexpr std::size_t kCount = kM127Limbs;
  static std::vector<u128> edges() {
    return {0, 1, 127, 128, 255, Fp127::P - 1, Fp127::P - 128, u128{1} << 126, (u128{1} << 64) - 1, u128{1} << 64};
  }
};

template <class F>
F random_below_p(std::mt19937_64& rng) {
  const u128 x = (static_cast<u128>(rng()) << 64) | rng();
  return F{static_cast<decltype(F::v)>(x % F::P)};
}

template <class F>
std::vector<F> edge_and_random_elements(std::size_t n, std::mt19937_64& rng) {
  const auto edges = Limbs<F>::edges();
  std::vector<F> y(n);
  for (std::size_t k = 0; k < n; ++k)
    y[k] = k < edges.size() ? F{static_cast<decltype(F::v)>(edges[k])} : random_below_p<F>(rng);
  return y;
}

// sum_l 2^(8 l) g[l limb_stride + i] + bias, in the field.
template <class F>
F reference_recombination(const std::int32_t* g, std::size_t limb_stride, std::size_t i, F bias) {
  F acc = bias, weight = F::one();
  const F two8 = F::from_int(256);
  for (std::size_t l = 0; l < Limbs<F>::kCount; ++l, weight = weight * two8)
    acc += F::from_int(g[l * limb_stride + i]) * weight;
  return acc;
}

const std::vector<std::size_t> kLengths{1, 7, 63, 70, 256};

template <class F>
class Int8Limbs : public ::testing::Test {};
using Fields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(Int8Limbs, Fields);

// A Y of 70 rows and 21 columns (y_stride 24 > width), split from column 2 for `width` columns and
// rows [j0, j1): every limb of the range is its byte minus 128, and nothing outside it is written.
TYPED_TEST(Int8Limbs, TransposedSplitGivesEachByteMinus128) {
  using F = TypeParam;
  std::mt19937_64 rng(61);
  const std::size_t inner = 70, y_stride = 24, k0 = 2;
  const auto y = edge_and_random_elements<F>(inner * y_stride, rng);
  constexpr std::int8_t kUntouched = 0x55;
  for (auto [width, j0, j1] : {std::tuple<std::size_t, std::size_t, std::size_t>{1, 0, 70}, {8, 5, 69}, {19, 64, 70}}) {
    std::vector<std::int8_t> lt(Limbs<F>::kCount * width * inner, kUntouched);
    split_limbs_transposed(y.data() + k0, y_stride, j0, j1, width, inner, lt.data());
    for (std::size_t l = 0; l < Limbs<F>::kCount; ++l)
      for (std::size_t k = 0; k < width; ++k)
        for (std::size_t j = 0; j < inner; ++j) {
          const int got = lt[(l * width + k) * inner + j];
          const u128 v = static_cast<u128>(y[j * y_stride + k0 + k].v);
          const int want = j >= j0 && j < j1 ? static_cast<int>((v >> (8 * l)) & 0xFF) - 128 : kUntouched;
          ASSERT_EQ(got, want) << "width " << width << " limb " << l << " column " << k << " row " << j;
        }
  }
}

TYPED_TEST(Int8Limbs, RecombineEqualsTheSumOfShiftedLimbsModP) {
  using F = TypeParam;
  std::mt19937_64 rng(62);
  constexpr std::int32_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  for (std::size_t n : kLengths) {
    const std::size_t limb_stride = n + 5;  // rows of the product longer than the entries used
    for (int fill : {0, 1, 2, 3}) {         // random; every limb at INT32_MAX; every limb at INT32_MIN; alternating
      std::vector<std::int32_t> g(Limbs<F>::kCount * limb_stride);
      for (std::size_t i = 0; i < g.size(); ++i)
        g[i] = fill == 0               ? static_cast<std::int32_t>(rng())
               : fill == 1             ? hi
               : fill == 2             ? lo
               : (i / limb_stride) % 2 ? hi
                                       : lo;
      std::vector<F> bias(n);
      for (auto& b : bias) b = fill == 0 ? random_below_p<F>(rng) : F::zero() - F::one();
      std::vector<F> z(n);
      recombine_limbs(g.data(), limb_stride, n, bias.data(), z.data());
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(z[i], reference_recombination<F>(g.data(), limb_stride, i, bias[i]))
            << "n " << n << " fill " << fill << " entry " << i;
    }
  }
}

// Sums that land on the wrap points: exactly p (must give 0), just below 0, exactly 2^bits, and
// the top limb pushing past p, each entry one limb against one bias.
TYPED_TEST(Int8Limbs, RecombineAtTheWrapPoints) {
  using F = TypeParam;
  const F top = F::zero() - F::one();  // p - 1
  const std::size_t last = Limbs<F>::kCount - 1;
  const F half{static_cast<decltype(F::v)>(F::P / 2 + 1)};  // 2^(bits - 1)
  struct Case {
    F bias;
    std::size_t limb;
    std::int32_t value;
  };
  const std::int32_t two_to_the_top = std::int32_t{1}
                                      << (F::kBits - 1 - 8 * last);  // limb weight x this = 2^(bits - 1)
  const std::vector<Case> cases{{top, 0, 1},
                                {F::zero(), 0, -1},
                                {F::one(), 0, -1},
                                {top, 0, 2},
                                {F::zero(), last, -1},
                                {top, last, 1},
                                {half, last, two_to_the_top},
                                {half, last, -two_to_the_top},
                                {F::zero(), 0, std::numeric_limits<std::int32_t>::min()},
                                {F::zero(), last, -2 * two_to_the_top}};  // -2^bits = -1: a borrow through every digit
  const std::size_t n = cases.size();
  std::vector<std::int32_t> g(Limbs<F>::kCount * n, 0);
  std::vector<F> bias(n), z(n);
  for (std::size_t i = 0; i < n; ++i) {
    g[cases[i].limb * n + i] = cases[i].value;
    bias[i] = cases[i].bias;
  }
  recombine_limbs(g.data(), n, n, bias.data(), z.data());
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_EQ(z[i], reference_recombination<F>(g.data(), n, i, bias[i])) << "case " << i;
  EXPECT_EQ(z[0], F::zero());
  EXPECT_EQ(z[1], top);
  EXPECT_EQ(z[2], F::zero());
  EXPECT_EQ(z[6], F::one());  // 2^(bits - 1) + 2^(bits - 1) = 2^bits = 1 (mod 2^bits - 1)
  EXPECT_EQ(z[9], top);
}

// One column of Y split, its limbs put back through a GEMM with weight 1 (the +128 offset undone)
// and recombined: the entries come back.
TYPED_TEST(Int8Limbs, RecombiningTheSplitLimbsGivesTheElementsBack) {
  using F = TypeParam;
  std::mt19937_64 rng(63);
  const std::size_t inner = 70;
  const auto y = edge_and_random_elements<F>(inner, rng);
  std::vector<std::int8_t> lt(Limbs<F>::kCount * inner);
  split_limbs_transposed(y.data(), 1, 0, inner, 1, inner, lt.data());
  std::vector<std::int32_t> g(lt.size());
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = lt[i] + 128;
  const std::vector<F> zero(inner, F::zero());
  std::vector<F> z(inner);
  recombine_limbs(g.data(), inner, inner, zero.data(), z.data());
  for (std::size_t j = 0; j < inner; ++j) EXPECT_EQ(z[j], y[j]) << "row " << j;
}

}  // namespace
}  // namespace nnproof

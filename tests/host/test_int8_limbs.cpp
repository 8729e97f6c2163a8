// The int8 forward's limb split and recombination (m61: 8 limbs, m127: 16) against references in
// the field: widths that are not multiples of any vector length, the fields' edge values, and
// every int32 product extreme. (Each function runs the clone that this CPU selects; the
// cross-engine tests cover the rest of the route.)
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "host/engines/int8_limbs.hpp"

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

// sum_l 2^(8 l) g_l + bias, in the field.
template <class F>
F reference_recombination(const std::int32_t* g, std::size_t width, std::size_t k, F bias) {
  F acc = bias, weight = F::one();
  const F two8 = F::from_int(256);
  for (std::size_t l = 0; l < Limbs<F>::kCount; ++l, weight = weight * two8)
    acc += F::from_int(g[l * width + k]) * weight;
  return acc;
}

const std::vector<std::size_t> kWidths{1, 7, 63, 70, 256};

template <class F>
class Int8Limbs : public ::testing::Test {};
using Fields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(Int8Limbs, Fields);

TYPED_TEST(Int8Limbs, SplitGivesEachByteMinus128) {
  using F = TypeParam;
  std::mt19937_64 rng(61);
  for (std::size_t width : kWidths) {
    const auto y = edge_and_random_elements<F>(width, rng);
    std::vector<std::int8_t> out(Limbs<F>::kCount * width, 0);
    split_limbs(y.data(), width, out.data());
    for (std::size_t l = 0; l < Limbs<F>::kCount; ++l)
      for (std::size_t k = 0; k < width; ++k)
        ASSERT_EQ(int{out[l * width + k]}, static_cast<int>((static_cast<u128>(y[k].v) >> (8 * l)) & 0xFF) - 128)
            << "width " << width << " limb " << l << " column " << k;
  }
}

TYPED_TEST(Int8Limbs, RecombineEqualsTheSumOfShiftedLimbsModP) {
  using F = TypeParam;
  std::mt19937_64 rng(62);
  constexpr std::int32_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  for (std::size_t width : kWidths) {
    for (int fill : {0, 1, 2, 3}) {  // random; every limb at INT32_MAX; every limb at INT32_MIN; alternating
      std::vector<std::int32_t> g(Limbs<F>::kCount * width);
      for (std::size_t i = 0; i < g.size(); ++i)
        g[i] = fill == 0         ? static_cast<std::int32_t>(rng())
               : fill == 1       ? hi
               : fill == 2       ? lo
               : (i / width) % 2 ? hi
                                 : lo;
      const F bias = fill == 0 ? random_below_p<F>(rng) : F::zero() - F::one();
      std::vector<F> z(width);
      recombine_limbs(g.data(), width, bias, z.data());
      for (std::size_t k = 0; k < width; ++k)
        ASSERT_EQ(z[k], reference_recombination<F>(g.data(), width, k, bias))
            << "width " << width << " fill " << fill << " column " << k;
    }
  }
}

TYPED_TEST(Int8Limbs, RecombiningTheSplitLimbsGivesTheElementsBack) {
  using F = TypeParam;
  std::mt19937_64 rng(63);
  const std::size_t width = 70;
  const auto y = edge_and_random_elements<F>(width, rng);
  std::vector<std::int8_t> limbs(Limbs<F>::kCount * width);
  split_limbs(y.data(), width, limbs.data());
  std::vector<std::int32_t> g(limbs.size());  // a GEMM with weight 1 and the +128 offset undone
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = limbs[i] + 128;
  std::vector<F> z(width);
  recombine_limbs(g.data(), width, F::zero(), z.data());
  for (std::size_t k = 0; k < width; ++k) EXPECT_EQ(z[k], y[k]) << "column " << k;
}

}  // namespace
}  // namespace nnproof

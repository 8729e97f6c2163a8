// The m61 int8 forward's limb split and recombination against 128-bit references: widths that are
// not multiples of any vector length, the field's edge values, and every int32 product extreme.
// (Each function runs the clone that this CPU selects; the cross-engine tests cover the rest of
// the route.)
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "host/engines/int8_limbs.hpp"

namespace nnproof {
namespace {

const std::vector<std::size_t> kWidths{1, 7, 63, 70, 256};

std::vector<Fp61> edge_and_random_elements(std::size_t n, std::mt19937_64& rng) {
  const std::vector<u64> edges{0, 1, 127, 128, 255, 256, Fp61::P - 1, Fp61::P - 128, u64{1} << 60, (u64{1} << 56) - 1};
  std::vector<Fp61> y(n);
  for (std::size_t k = 0; k < n; ++k) y[k].v = k < edges.size() ? edges[k] : rng() % Fp61::P;
  return y;
}

TEST(Int8LimbsM61, SplitGivesEachByteMinus128) {
  std::mt19937_64 rng(61);
  for (std::size_t width : kWidths) {
    const auto y = edge_and_random_elements(width, rng);
    std::vector<std::int8_t> out(kM61Limbs * width, 0);
    split_limbs_m61(y.data(), width, out.data());
    for (std::size_t l = 0; l < kM61Limbs; ++l)
      for (std::size_t k = 0; k < width; ++k)
        ASSERT_EQ(int{out[l * width + k]}, static_cast<int>((y[k].v >> (8 * l)) & 0xFF) - 128)
            << "width " << width << " limb " << l << " column " << k;
  }
}

TEST(Int8LimbsM61, RecombineEqualsTheSumOfShiftedLimbsModP) {
  std::mt19937_64 rng(62);
  constexpr std::int32_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  for (std::size_t width : kWidths) {
    for (int fill : {0, 1, 2}) {  // random; every limb at INT32_MAX; every limb at INT32_MIN
      std::vector<std::int32_t> g(kM61Limbs * width);
      for (auto& x : g) x = fill == 0 ? static_cast<std::int32_t>(rng()) : fill == 1 ? hi : lo;
      const Fp61 bias = fill == 0 ? Fp61::from_u64(rng()) : Fp61{Fp61::P - 1};
      std::vector<Fp61> z(width);
      recombine_limbs_m61(g.data(), width, bias, z.data());
      for (std::size_t k = 0; k < width; ++k) {
        i128 sum = 0;
        for (std::size_t l = 0; l < kM61Limbs; ++l) sum += static_cast<i128>(g[l * width + k]) << (8 * l);
        ASSERT_EQ(z[k].v, (Fp61::from_i128(sum) + bias).v) << "width " << width << " fill " << fill << " column " << k;
      }
    }
  }
}

TEST(Int8LimbsM61, RecombiningTheSplitLimbsGivesTheElementsBack) {
  std::mt19937_64 rng(63);
  const std::size_t width = 70;
  const auto y = edge_and_random_elements(width, rng);
  std::vector<std::int8_t> limbs(kM61Limbs * width);
  split_limbs_m61(y.data(), width, limbs.data());
  std::vector<std::int32_t> g(limbs.size());  // a GEMM with weight 1 and the +128 offset undone
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = limbs[i] + 128;
  std::vector<Fp61> z(width);
  recombine_limbs_m61(g.data(), width, Fp61::zero(), z.data());
  for (std::size_t k = 0; k < width; ++k) EXPECT_EQ(z[k].v, y[k].v) << "column " << k;
}

}  // namespace
}  // namespace nnproof

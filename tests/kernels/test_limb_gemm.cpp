// SPDX-License-Identifier: Apache-2.0
// Int8WeightsMatmul on its own: one object per layer, one primitive per block width. Each width,
// including one made again after eviction, must compute C^T = L'^T W^T exactly (against a plain
// int32 product), and holds() must tell the same bytes from changed ones.
// And plan_limbs: the widest limbs whose DGEMM sums stay exact in double.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/hostdevice.hpp"
#include "kernels/cpu/limb_gemm.hpp"

namespace nnproof {
namespace {

std::vector<std::int8_t> random_bytes(std::size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> byte(-128, 127);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(byte(rng));
  return v;
}

// c_t[k][a] = sum_j limbs_t[k][j] W[a][j]
std::vector<std::int32_t> plain_product(const std::vector<std::int8_t>& w, const std::vector<std::int8_t>& limbs_t,
                                        std::size_t rows, std::size_t inner, std::size_t ncols) {
  std::vector<std::int32_t> c(ncols * rows);
  for (std::size_t k = 0; k < ncols; ++k)
    for (std::size_t a = 0; a < rows; ++a) {
      std::int32_t s = 0;
      for (std::size_t j = 0; j < inner; ++j) s += std::int32_t{limbs_t[k * inner + j]} * w[a * inner + j];
      c[k * rows + a] = s;
    }
  return c;
}

TEST(Int8WeightsMatmul, EveryWidthIsExactAndSharesOneWeightCopy) {
  if (!int8_limb_gemm_available()) GTEST_SKIP() << "no VNNI: the int8 route is not used on this CPU";
  std::mt19937_64 rng(71);
  constexpr std::size_t rows = 37, inner = 301;
  const auto w = random_bytes(rows * inner, rng);
  Int8WeightsMatmul matmul(w.data(), rows, inner);
  std::int64_t first_row = 0;
  for (std::size_t j = 0; j < inner; ++j) first_row += w[j];
  EXPECT_EQ(matmul.row_sums().size(), rows);
  EXPECT_EQ(matmul.row_sums()[0], first_row);
  // 2048 and 352 as a 300-sample batch of m61 would use them (256 + 44 samples x 8 limbs), then
  // more widths than the object keeps, then the first again, made anew.
  for (std::size_t ncols : {2048, 352, 352, 2048, 8, 16, 24, 40, 2048}) {
    const auto limbs_t = random_bytes(ncols * inner, rng);
    std::vector<std::int32_t> c(ncols * rows);
    matmul.run(ncols, limbs_t.data(), c.data());
    EXPECT_EQ(c, plain_product(w, limbs_t, rows, inner, ncols)) << "ncols " << ncols;
  }
  EXPECT_LE(matmul.widths(), 4u);
}

TEST(Int8WeightsMatmul, HoldsComparesTheBytesAndTheShape) {
  std::mt19937_64 rng(72);
  constexpr std::size_t rows = 5, inner = 3 << 20;  // several of the comparison's 1 MiB chunks
  auto w = random_bytes(rows * inner, rng);
  Int8WeightsMatmul matmul(w.data(), rows, inner);
  const std::vector<std::int8_t> copy = w;  // the same bytes at another address
  EXPECT_TRUE(matmul.holds(copy.data(), rows, inner));
  EXPECT_FALSE(matmul.holds(copy.data(), inner, rows));
  w.back() = static_cast<std::int8_t>(w.back() ^ 1);
  EXPECT_FALSE(matmul.holds(w.data(), rows, inner));
}

TEST(LimbPlan, RespectsTheDoublePrecisionBound) {
  // (2^c - 1) * rowsum <= 2^53 must hold, and c must be the largest such width.
  for (std::uint64_t rowsum : {1ull, 127ull, 254000ull, 1ull << 30, (1ull << 45) - 1}) {
    LimbPlan p = plan_limbs(rowsum, 61);
    ASSERT_GT(p.limb_bits, 0u) << rowsum;
    EXPECT_LE(((u128{1} << p.limb_bits) - 1) * rowsum, u128{1} << 53);
    if (p.limb_bits < 52) {
      EXPECT_GT(((u128{1} << (p.limb_bits + 1)) - 1) * rowsum, u128{1} << 53);
    }
    EXPECT_GE(p.limb_bits * p.limbs, 61u);
  }
  EXPECT_EQ(plan_limbs(254000, 61).limbs, 2u);          // the TIMIT shape with int8 weights: two DGEMMs
  EXPECT_EQ(plan_limbs(1ull << 50, 61).limb_bits, 0u);  // too wide: the direct kernel
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// The m127 activation kernels (group sums, pair q, row folds) of every implementation this CPU
// runs, and the product sum-check's pair products, against the same quantities written out with plain field arithmetic:
// random rows and weights, every entry and weight at p - 1, rows at p - 1 against zero rows (differences 1 - p), column
// counts around the eight-column register width, and long rows that need the AVX-512 accumulators' periodic flush.
#include <gtest/gtest.h>

#include <random>

#include "kernels/cpu/m127_kernels.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

const Fp127 kTop = Fp127::zero() - Fp127::one();  // p - 1
const std::size_t kColumnCounts[] = {1, 3, 4, 5, 8, 13, 512, 4096 + 8, 65536 + 8};

// fill 0: random; 1: p - 1 everywhere; 2: p - 1 in the first rows, 0 in the others.
std::vector<Fp127> row(std::size_t cols, int fill, bool first, std::mt19937_64& rng) {
  std::vector<Fp127> z(cols);
  for (auto& x : z) x = fill == 0 ? testing::random_element<Fp127>(rng) : fill == 1 || first ? kTop : Fp127::zero();
  return z;
}

TEST(M127Kernels, GroupSumsMatchPlainFieldSums) {
  auto rng = testing::make_rng(95);
  for (const auto& kernel : m127_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2}) {
        std::vector<Fp127> z[4];
        for (unsigned r = 0; r < 4; ++r) z[r] = row(cols, fill, r < 2, rng);
        const std::vector<Fp127> e = row(cols, fill == 0 ? 0 : 1, true, rng);
        std::array<Fp127, 9> want;
        want.fill(Fp127::zero());
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp127 a0 = z[0][k], a1 = z[1][k], d0 = z[2][k] - a0, d1 = z[3][k] - a1;
          const Fp127 a2 = Fp127::from_int(2) * a1 - a0, d2 = Fp127::from_int(2) * d1 - d0;
          const Fp127 terms[9] = {a0 * a0, a1 * a1, a2 * a2, a0 * d0, a1 * d1, a2 * d2, d0 * d0, d1 * d1, d2 * d2};
          for (unsigned i = 0; i < 9; ++i) want[i] += e[k] * terms[i];
        }
        EXPECT_EQ(kernel.group_sums(z[0].data(), z[1].data(), z[2].data(), z[3].data(), M127ColumnWeights(e)), want)
            << kernel.name << " cols " << cols << " fill " << fill;
      }
}

// Five rows: one block of four (the portable loop's shared pass) and a row on its own.
TEST(M127Kernels, RowDotsMatchPlainFieldSums) {
  auto rng = testing::make_rng(98);
  constexpr std::size_t kRows = 5;
  for (const auto& kernel : m127_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1}) {
        const std::vector<Fp127> e = row(cols, fill, true, rng);
        std::vector<Fp127> y, want(kRows, Fp127::zero()), got(kRows);
        for (std::size_t j = 0; j < kRows; ++j) {
          const std::vector<Fp127> r = row(cols, fill, true, rng);
          y.insert(y.end(), r.begin(), r.end());
          for (std::size_t k = 0; k < cols; ++k) want[j] += e[k] * r[k];
        }
        kernel.row_dots(y.data(), kRows, M127ColumnWeights(e), got.data());
        EXPECT_EQ(got, want) << kernel.name << " cols " << cols << " fill " << fill;
      }
}

TEST(M127Kernels, PairQMatchesPlainFieldSums) {
  auto rng = testing::make_rng(96);
  for (const auto& kernel : m127_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2}) {
        const std::vector<Fp127> lo = row(cols, fill, true, rng), hi = row(cols, fill, false, rng);
        const std::vector<Fp127> e = row(cols, fill == 0 ? 0 : 1, true, rng);
        std::array<Fp127, 2> want{Fp127::zero(), Fp127::zero()};
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp127 z2 = Fp127::from_int(2) * hi[k] - lo[k];
          want[0] += e[k] * lo[k] * lo[k];
          want[1] += e[k] * z2 * z2;
        }
        EXPECT_EQ(kernel.pair_q(lo.data(), hi.data(), M127ColumnWeights(e)), want)
            << kernel.name << " cols " << cols << " fill " << fill;
      }
}

// The product sum-check's round sums (m127_pair_products) of two tables' pairs: random, p - 1
// everywhere, p - 1 against zeros; counts around the register width and past a flush.
TEST(M127Kernels, PairProductsMatchPlainFieldSums) {
  const M127PairProducts kernel = m127_pair_products();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(99);
  for (std::size_t n : kColumnCounts)
    for (int fill : {0, 1, 2}) {
      const std::vector<Fp127> a_lo = row(n, fill, true, rng), a_hi = row(n, fill, false, rng);
      const std::vector<Fp127> v_lo = row(n, fill, false, rng), v_hi = row(n, fill, true, rng);
      std::array<Fp127, 2> want{Fp127::zero(), Fp127::zero()};
      for (std::size_t k = 0; k < n; ++k) {
        want[0] += a_lo[k] * v_lo[k];
        want[1] += (Fp127::from_int(2) * a_hi[k] - a_lo[k]) * (Fp127::from_int(2) * v_hi[k] - v_lo[k]);
      }
      EXPECT_EQ(kernel(a_lo.data(), a_hi.data(), v_lo.data(), v_hi.data(), n), want) << "n " << n << " fill " << fill;
    }
}

TEST(M127Kernels, FoldsMatchPlainFieldArithmetic) {
  auto rng = testing::make_rng(97);
  for (const auto& kernel : m127_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2}) {
        const Fp127 r = fill == 0 ? testing::random_element<Fp127>(rng) : kTop;
        const Fp127 rho2 = fill == 0 ? testing::random_element<Fp127>(rng) : fill == 1 ? kTop : Fp127::one();
        const std::vector<Fp127> a = row(cols, fill, true, rng), b = row(cols, fill, false, rng);
        std::vector<Fp127> want(cols), out(cols), in_place = a;
        for (std::size_t k = 0; k < cols; ++k) want[k] = a[k] + r * (b[k] - a[k]);
        kernel.fold_row(a.data(), b.data(), r, out.data(), cols);
        kernel.fold_row(in_place.data(), b.data(), r, in_place.data(), cols);
        EXPECT_EQ(out, want) << kernel.name << " fold_row cols " << cols << " fill " << fill;
        EXPECT_EQ(in_place, want) << kernel.name << " fold_row in place, cols " << cols << " fill " << fill;
        std::vector<Fp127> z[4];
        for (unsigned i = 0; i < 4; ++i) z[i] = row(cols, fill, i % 2 == 0, rng);
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp127 lo = z[0][k] + rho2 * (z[1][k] - z[0][k]), hi = z[2][k] + rho2 * (z[3][k] - z[2][k]);
          want[k] = lo + r * (hi - lo);
        }
        kernel.fold_two(z[0].data(), z[1].data(), z[2].data(), z[3].data(), r, rho2, out.data(), cols);
        EXPECT_EQ(out, want) << kernel.name << " fold_two cols " << cols << " fill " << fill;
      }
}

// Sums that land exactly on p (1 + (p - 1)) must be stored as 0: the kernels' last reduction.
TEST(M127Kernels, FoldsStoreSumsEqualToPAsZero) {
  for (const auto& kernel : m127_kernels_available()) {
    const std::size_t cols = 13;
    const std::vector<Fp127> one(cols, Fp127::one()), zero(cols, Fp127::zero());
    std::vector<Fp127> out(cols, Fp127::one());
    kernel.fold_row(one.data(), zero.data(), Fp127::one(), out.data(), cols);  // 1 + 1 (0 - 1)
    EXPECT_EQ(out, zero) << kernel.name;
    out.assign(cols, Fp127::one());
    kernel.fold_two(one.data(), zero.data(), one.data(), zero.data(), Fp127::zero(), Fp127::one(), out.data(), cols);
    EXPECT_EQ(out, zero) << kernel.name;  // 1 + 1 (0 - 1): the b2 pair at rho2 = 1
  }
}

}  // namespace
}  // namespace nnproof

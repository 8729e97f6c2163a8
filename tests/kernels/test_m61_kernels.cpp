// SPDX-License-Identifier: Apache-2.0
// The m61 activation kernels (group sums, pair q, row folds) of every implementation this CPU runs,
// against the same quantities written out with plain field arithmetic: random tables and weights,
// every entry and weight at p - 1, column counts below, at and above the eight-column register
// width, and long rows that need the AVX-512 accumulators' periodic flush.
#include <gtest/gtest.h>

#include <random>

#include "kernels/cpu/m61_kernels.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

const Fp61 kTop = Fp61::zero() - Fp61::one();  // p - 1
// 65544 random columns would wrap the AVX-512 accumulators (~2^51 per addend on average) were they
// not flushed every 4096 columns.
const std::size_t kColumnCounts[] = {1, 3, 8, 13, 512, 4096 + 8, 8192 + 5, 65536 + 8};

// fill 0: random; 1: p - 1 everywhere; 2: p - 1 in the first half of the rows, 0 in the rest
// (differences 1 - p); 3: random with the low 52 bits all ones (the values p - 1 does not give:
// (p - 1)^2 = 1, but these make the IFMA kernels' high halves large, the accumulators' worst case).
Fp61 filled(int fill, bool first_half, std::mt19937_64& rng) {
  if (fill == 0) return testing::random_element<Fp61>(rng);
  if (fill == 3) return Fp61{((rng() % 511) << 52) | ((std::uint64_t{1} << 52) - 1)};  // below p
  return fill == 1 || first_half ? kTop : Fp61::zero();
}
std::vector<Fp61> base_row(std::size_t cols, int fill, bool first_half, std::mt19937_64& rng) {
  std::vector<Fp61> z(cols);
  for (auto& x : z) x = filled(fill, first_half, rng);
  return z;
}
std::vector<Fp61x2> k_row(std::size_t cols, int fill, bool first_half, std::mt19937_64& rng) {
  std::vector<Fp61x2> z(cols);
  for (auto& x : z) x = {filled(fill, first_half, rng), filled(fill, first_half, rng)};
  return z;
}

TEST(M61Kernels, GroupSumsMatchPlainFieldSums) {
  auto rng = testing::make_rng(91);
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2, 3}) {
        std::vector<Fp61> z[4];
        for (unsigned r = 0; r < 4; ++r) z[r] = base_row(cols, fill, r < 2, rng);
        const std::vector<Fp61x2> e = k_row(cols, fill == 2 ? 1 : fill, true, rng);
        std::array<Fp61x2, kM61GroupSums> want;
        want.fill(Fp61x2::zero());
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp61 a0 = z[0][k], a1 = z[1][k], d0 = z[2][k] - a0, d1 = z[3][k] - a1;
          const Fp61 a2 = Fp61::from_int(2) * a1 - a0, d2 = Fp61::from_int(2) * d1 - d0;
          const Fp61 terms[kM61GroupSums] = {a0 * a0, a1 * a1, a2 * a2, a0 * d0, a1 * d1,
                                             a2 * d2, d0 * d0, d1 * d1, d2 * d2};
          for (unsigned i = 0; i < kM61GroupSums; ++i) want[i] += e[k] * Fp61x2::from_base(terms[i]);
        }
        EXPECT_EQ(kernel.group_sums(z[0].data(), z[1].data(), z[2].data(), z[3].data(), M61ColumnWeights(e)), want)
            << kernel.name << " cols " << cols << " fill " << fill;
      }
}

// Five rows: one block of four (the portable loop's shared pass) and a row on its own.
TEST(M61Kernels, RowDotsMatchPlainFieldSums) {
  auto rng = testing::make_rng(94);
  constexpr std::size_t kRows = 5;
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 3}) {
        const std::vector<Fp61x2> e = k_row(cols, fill, true, rng);
        std::vector<Fp61> y;
        std::vector<Fp61x2> want(kRows, Fp61x2::zero()), got(kRows);
        for (std::size_t j = 0; j < kRows; ++j) {
          const std::vector<Fp61> row = base_row(cols, fill, true, rng);
          y.insert(y.end(), row.begin(), row.end());
          for (std::size_t k = 0; k < cols; ++k) want[j] += e[k] * Fp61x2::from_base(row[k]);
        }
        kernel.row_dots(y.data(), kRows, M61ColumnWeights(e), got.data());
        EXPECT_EQ(got, want) << kernel.name << " cols " << cols << " fill " << fill;
      }
}

TEST(M61Kernels, PairQMatchesPlainFieldSums) {
  auto rng = testing::make_rng(92);
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2, 3}) {
        const std::vector<Fp61x2> lo = k_row(cols, fill, true, rng), hi = k_row(cols, fill, false, rng);
        const std::vector<Fp61x2> e = k_row(cols, fill == 2 ? 1 : fill, true, rng);
        std::array<Fp61x2, 2> want{Fp61x2::zero(), Fp61x2::zero()};
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp61x2 z2 = Fp61x2::from_int(2) * hi[k] - lo[k];
          want[0] += e[k] * lo[k] * lo[k];
          want[1] += e[k] * z2 * z2;
        }
        EXPECT_EQ(kernel.pair_q(lo.data(), hi.data(), M61ColumnWeights(e)), want)
            << kernel.name << " cols " << cols << " fill " << fill;
      }
}

TEST(M61Kernels, FoldsMatchPlainFieldArithmetic) {
  auto rng = testing::make_rng(93);
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2}) {
        const Fp61x2 r = fill == 0 ? testing::random_element<Fp61x2>(rng) : Fp61x2{kTop, kTop};
        const Fp61x2 rho2 = fill == 0 ? testing::random_element<Fp61x2>(rng) : Fp61x2{kTop, Fp61::zero()};
        // One row of K folded, out of place and in place.
        const std::vector<Fp61x2> a = k_row(cols, fill, true, rng), b = k_row(cols, fill, false, rng);
        std::vector<Fp61x2> want(cols), out(cols), in_place = a;
        for (std::size_t k = 0; k < cols; ++k) want[k] = a[k] + r * (b[k] - a[k]);
        kernel.fold_row(a.data(), b.data(), r, out.data(), cols);
        kernel.fold_row(in_place.data(), b.data(), r, in_place.data(), cols);
        EXPECT_EQ(out, want) << kernel.name << " fold_row cols " << cols << " fill " << fill;
        EXPECT_EQ(in_place, want) << kernel.name << " fold_row in place, cols " << cols << " fill " << fill;
        // A group of four base rows bound at two variables: the multilinear extension at (r, rho2).
        std::vector<Fp61> z[4];
        for (unsigned i = 0; i < 4; ++i) z[i] = base_row(cols, fill, i % 2 == 0, rng);
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp61x2 lo = Fp61x2::from_base(z[0][k]) + rho2 * Fp61x2::from_base(z[1][k] - z[0][k]);
          const Fp61x2 hi = Fp61x2::from_base(z[2][k]) + rho2 * Fp61x2::from_base(z[3][k] - z[2][k]);
          want[k] = lo + r * (hi - lo);
        }
        kernel.fold_two(z[0].data(), z[1].data(), z[2].data(), z[3].data(), r, rho2, out.data(), cols);
        EXPECT_EQ(out, want) << kernel.name << " fold_two cols " << cols << " fill " << fill;
      }
}

// A coordinate that sums to exactly p must be stored as 0. fold_two's imaginary part with
// z00 = 0, z01 = 1, z10 = p - 1, z11 = 0 and rho1 = rho2 = i is (p - 1) + 1; fold_row's real part
// with a = 1, b = 0, r = 1 is 1 + (p - 1).
TEST(M61Kernels, FoldsStoreSumsEqualToPAsZero) {
  const Fp61x2 i{Fp61::zero(), Fp61::one()};
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : {13, 16}) {  // (the AVX-512 K-row kernels take rows of whole registers)
      const std::vector<Fp61> zeros(cols, Fp61::zero()), ones(cols, Fp61::one()), tops(cols, kTop);
      std::vector<Fp61x2> out(cols, Fp61x2::one());
      kernel.fold_two(zeros.data(), ones.data(), tops.data(), zeros.data(), i, i, out.data(), cols);
      EXPECT_EQ(out, std::vector<Fp61x2>(cols, Fp61x2::zero())) << kernel.name << " cols " << cols;
      const std::vector<Fp61x2> a(cols, Fp61x2::one()), b(cols, Fp61x2::zero());
      kernel.fold_row(a.data(), b.data(), Fp61x2::one(), out.data(), cols);
      EXPECT_EQ(out, b) << kernel.name << " cols " << cols;
    }
}

// The forward pass's squares (the fastest route this CPU takes) against scalar field products: every
// fill above, lengths below, at and off the register width, and in place.
TEST(M61Kernels, SquareEntriesMatchFieldProducts) {
  std::mt19937_64 rng(67);
  for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{13}, std::size_t{4096 + 3}})
    for (int fill : {0, 1, 3}) {
      const std::vector<Fp61> z = base_row(n, fill, true, rng);
      std::vector<Fp61> y(n), in_place = z;
      m61_square_entries(z.data(), y.data(), n);
      m61_square_entries(in_place.data(), in_place.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(y[i], z[i] * z[i]) << "n " << n << " fill " << fill << " entry " << i;
        ASSERT_EQ(in_place[i], y[i]) << "in place, n " << n << " entry " << i;
      }
    }
}

}  // namespace
}  // namespace nnproof

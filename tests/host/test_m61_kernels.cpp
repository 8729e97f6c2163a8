// The m61 activation kernels (group sums, pair q, row folds) of every implementation this CPU runs,
// against the same quantities written out with plain field arithmetic: random tables and weights,
// every entry and weight at p - 1, column counts below, at and above the eight-column register
// width, and long rows that need the AVX-512 accumulators' periodic flush.
#include <gtest/gtest.h>

#include <random>

#include "host/engines/m61_kernels.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

const Fp61 kTop = Fp61::zero() - Fp61::one();  // p - 1
// 65544 random columns would wrap the AVX-512 accumulators (~2^51 per addend on average) were they
// not flushed every 4096 columns.
const std::size_t kColumnCounts[] = {1, 3, 8, 13, 512, 4096 + 8, 8192 + 5, 65536 + 8};

// fill 0: random; 1: p - 1 everywhere; 2: p - 1 in the first half of the rows, 0 in the rest
// (differences 1 - p).
std::vector<Fp61> base_row(std::size_t cols, int fill, bool first_half, std::mt19937_64& rng) {
  std::vector<Fp61> z(cols);
  for (auto& x : z) x = fill == 0 ? testing::random_element<Fp61>(rng) : fill == 1 || first_half ? kTop : Fp61::zero();
  return z;
}
std::vector<Fp61x2> k_row(std::size_t cols, int fill, bool first_half, std::mt19937_64& rng) {
  std::vector<Fp61x2> z(cols);
  for (auto& x : z) x = fill == 0 ? testing::random_element<Fp61x2>(rng) : fill == 1 || first_half ? Fp61x2{kTop, kTop} : Fp61x2::zero();
  return z;
}

TEST(M61Kernels, GroupSumsMatchPlainFieldSums) {
  auto rng = testing::make_rng(91);
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2}) {
        std::vector<Fp61> z[4];
        for (unsigned r = 0; r < 4; ++r) z[r] = base_row(cols, fill, r < 2, rng);
        const std::vector<Fp61x2> e = k_row(cols, fill == 0 ? 0 : 1, true, rng);
        std::array<Fp61x2, kM61GroupSums> want;
        want.fill(Fp61x2::zero());
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp61 a0 = z[0][k], a1 = z[1][k], d0 = z[2][k] - a0, d1 = z[3][k] - a1;
          const Fp61 a2 = Fp61::from_int(2) * a1 - a0, d2 = Fp61::from_int(2) * d1 - d0;
          const Fp61 terms[kM61GroupSums] = {a0 * a0, a1 * a1, a2 * a2, a0 * d0, a1 * d1, a2 * d2, d0 * d0, d1 * d1, d2 * d2};
          for (unsigned i = 0; i < kM61GroupSums; ++i) want[i] += e[k] * Fp61x2::from_base(terms[i]);
        }
        EXPECT_EQ(kernel.group_sums(z[0].data(), z[1].data(), z[2].data(), z[3].data(), M61ColumnWeights(e)), want)
            << kernel.name << " cols " << cols << " fill " << fill;
      }
}

TEST(M61Kernels, RowDotMatchesPlainFieldSums) {
  auto rng = testing::make_rng(94);
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1}) {
        const std::vector<Fp61> y = base_row(cols, fill, true, rng);
        const std::vector<Fp61x2> e = k_row(cols, fill, true, rng);
        Fp61x2 want = Fp61x2::zero();
        for (std::size_t k = 0; k < cols; ++k) want += e[k] * Fp61x2::from_base(y[k]);
        EXPECT_EQ(kernel.row_dot(y.data(), M61ColumnWeights(e)), want) << kernel.name << " cols " << cols << " fill " << fill;
      }
}

TEST(M61Kernels, PairQMatchesPlainFieldSums) {
  auto rng = testing::make_rng(92);
  for (const auto& kernel : m61_kernels_available())
    for (std::size_t cols : kColumnCounts)
      for (int fill : {0, 1, 2}) {
        const std::vector<Fp61x2> lo = k_row(cols, fill, true, rng), hi = k_row(cols, fill, false, rng);
        const std::vector<Fp61x2> e = k_row(cols, fill == 0 ? 0 : 1, true, rng);
        std::array<Fp61x2, 2> want{Fp61x2::zero(), Fp61x2::zero()};
        for (std::size_t k = 0; k < cols; ++k) {
          const Fp61x2 z2 = Fp61x2::from_int(2) * hi[k] - lo[k];
          want[0] += e[k] * lo[k] * lo[k];
          want[1] += e[k] * z2 * z2;
        }
        EXPECT_EQ(kernel.pair_q(lo.data(), hi.data(), M61ColumnWeights(e)), want) << kernel.name << " cols " << cols << " fill " << fill;
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

}  // namespace
}  // namespace nnproof

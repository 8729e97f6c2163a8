// The m127 group sums (the carried activation pass) of every implementation this CPU runs, against
// the nine sums written out with plain field arithmetic: random rows and weights, every entry and
// weight at p - 1, rows at p - 1 against zero rows (differences 1 - p), column counts around the
// eight-column register width, and long rows that need the AVX-512 accumulators' periodic flush.
#include <gtest/gtest.h>

#include <random>

#include "host/engines/m127_kernels.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

TEST(M127Kernels, GroupSumsMatchPlainFieldSums) {
  auto rng = testing::make_rng(95);
  const Fp127 top = Fp127::zero() - Fp127::one();
  for (const auto& kernel : m127_kernels_available())
    for (std::size_t cols : {1, 3, 4, 5, 8, 13, 512, 4096 + 8, 65536 + 8})
      for (int fill : {0, 1, 2}) {
        std::vector<Fp127> z[4];
        for (unsigned r = 0; r < 4; ++r) {
          z[r].resize(cols);
          for (auto& x : z[r]) x = fill == 0 ? testing::random_element<Fp127>(rng) : fill == 1 || r < 2 ? top : Fp127::zero();
        }
        std::vector<Fp127> e(cols);
        for (auto& x : e) x = fill == 0 ? testing::random_element<Fp127>(rng) : top;
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

}  // namespace
}  // namespace nnproof

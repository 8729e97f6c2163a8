// The m61 group sums (the carried activation pass) of every kernel this CPU runs, against the
// nine sums written out with plain field arithmetic: random tables and weights, all entries and
// weights at p - 1 (the largest products and partial sums), column counts below, at and above the
// eight-column register width, and one past a flush of the AVX-512 accumulators.
#include <gtest/gtest.h>

#include <random>

#include "host/engines/m61_group_sums.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

std::array<Fp61x2, kM61GroupSums> plain_sums(const std::vector<Fp61>* z, const std::vector<Fp61x2>& e) {
  std::array<Fp61x2, kM61GroupSums> s;
  s.fill(Fp61x2::zero());
  for (std::size_t k = 0; k < e.size(); ++k) {
    const Fp61 a0 = z[0][k], a1 = z[1][k], d0 = z[2][k] - a0, d1 = z[3][k] - a1;
    const Fp61 a2 = Fp61::from_int(2) * a1 - a0, d2 = Fp61::from_int(2) * d1 - d0;
    const Fp61 terms[kM61GroupSums] = {a0 * a0, a1 * a1, a2 * a2, a0 * d0, a1 * d1, a2 * d2, d0 * d0, d1 * d1, d2 * d2};
    for (unsigned i = 0; i < kM61GroupSums; ++i) s[i] += e[k] * Fp61x2::from_base(terms[i]);
  }
  return s;
}

TEST(M61GroupSums, EveryKernelMatchesPlainFieldSums) {
  auto rng = testing::make_rng(91);
  const Fp61 top = Fp61::zero() - Fp61::one();
  for (const auto& kernel : m61_group_sums_kernels()) {
    for (std::size_t cols : {1, 3, 8, 13, 512, 8 * 1024 + 5}) {
      for (int fill : {0, 1, 2}) {  // random; everything at p - 1; rows at p - 1 and 0 (d = 1 - p)
        std::vector<Fp61> z[4];
        for (unsigned r = 0; r < 4; ++r) {
          z[r].resize(cols);
          for (auto& x : z[r]) x = fill == 0 ? testing::random_element<Fp61>(rng) : fill == 1 || r < 2 ? top : Fp61::zero();
        }
        std::vector<Fp61x2> e(cols);
        for (auto& x : e) x = fill == 0 ? testing::random_element<Fp61x2>(rng) : Fp61x2{top, top};
        const M61ColumnWeights w(e);
        EXPECT_EQ(kernel.fn(z[0].data(), z[1].data(), z[2].data(), z[3].data(), w), plain_sums(z, e))
            << kernel.name << " cols " << cols << " fill " << fill;
      }
    }
  }
}

}  // namespace
}  // namespace nnproof

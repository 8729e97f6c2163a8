// SPDX-License-Identifier: Apache-2.0
// The tap-incidence MLE (verifier/training/tap_incidence.hpp), the verifier's part of the planned
// kernel-gradient seed of a structured training proof, against two oracles: its definition
// sum_a sum_{tap} eq(q, a) eq(s, j(a, tap)) eq(t, tap) over the op's own tap loop (for_each_tap, in
// the pow2 layouts), and the gradient identity it exists for: G~(t) of a convolution's exact kernel
// gradient G[tap] = sum_k sum_a V[a][k] U[j(a, tap)][k] equals sum over the hypercube of
// V(a, k) M_t~(a, j) U(j, k). Random shapes, strides, paddings, groups, odd image sizes.
#include <gtest/gtest.h>

#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/training/tap_incidence.hpp"

namespace nnproof {
namespace {

using testing::ImageDims;
using testing::make_rng;
using testing::pick;
using testing::random_point;

LinearOp random_padded_conv(std::mt19937_64& rng) {
  ImageDims img{pick(rng, 1, 4), pick(rng, 2, 9), pick(rng, 2, 9)};
  if (img.c % 2 == 1 && pick(rng, 0, 1)) img.c *= 2;  // groups of two sometimes
  LinearOp op = testing::random_conv(rng, img);
  op.conv.pow2_in = op.conv.pow2_out = true;
  op.rows = op.conv.out_size();
  op.cols = op.conv.in_size();
  return op;
}

template <class K>
void expect_incidence_equals_definition(std::uint64_t seed) {
  auto rng = make_rng(seed);
  for (int c = 0; c < 60; ++c) {
    const LinearOp op = random_padded_conv(rng);
    const ConvShape& s = op.conv;
    const auto t = random_point<K>(rng, s.kernel_size()), q = random_point<K>(rng, op.rows),
               x = random_point<K>(rng, op.cols);
    const auto et = eq_table<K>(t), eq = eq_table<K>(q), ex = eq_table<K>(x);
    K defined = K::zero();
    for (std::size_t a = 0; a < op.rows; ++a)
      for_each_tap(s, a, [&](std::size_t j, std::size_t tap) { defined += eq[a] * ex[j] * et[tap]; });
    EXPECT_EQ(tap_incidence_mle<K>(s, t, q, x), defined) << "case " << c;
  }
}

TEST(TapIncidence, EqualsItsDefinition) {
  expect_incidence_equals_definition<Fp127>(1870);
  expect_incidence_equals_definition<Fp61x2>(1871);
  expect_incidence_equals_definition<Fp61>(1872);
}

// The identity the seed's two sum-checks rest on, summed out over the hypercube (small shapes).
TEST(TapIncidence, GradientMleIsTheIncidenceSum) {
  using K = Fp127;
  auto rng = make_rng(1873);
  for (int c = 0; c < 12; ++c) {
    const LinearOp op = random_padded_conv(rng);
    const ConvShape& s = op.conv;
    const std::size_t N = pick(rng, 1, 3);
    std::vector<std::vector<K>> U(op.cols, std::vector<K>(N)), V(op.rows, std::vector<K>(N));
    for (auto& row : U)
      for (auto& u : row) u = random_element<K>(rng);
    for (auto& row : V)
      for (auto& v : row) v = random_element<K>(rng);
    // Zeros at the pow2 padding, as the tables are.
    for (std::size_t a = 0; a < op.rows; ++a) {
      bool real = false;
      for_each_tap(s, a, [&](std::size_t, std::size_t) { real = true; });
      if (!real) V[a].assign(N, K::zero());
    }
    std::vector<K> G(std::size_t{1} << ceil_log2(s.kernel_size()), K::zero());
    for (std::size_t a = 0; a < op.rows; ++a)
      for_each_tap(s, a, [&](std::size_t j, std::size_t tap) {
        for (std::size_t k = 0; k < N; ++k) G[tap] += V[a][k] * U[j][k];
      });
    const auto t = random_point<K>(rng, s.kernel_size());
    const K claimed = mle_evaluate<K, K>(G, t);
    // sum_{a, j, k} V[a][k] M_t~(a, j) U[j][k], M_t~ at Boolean points.
    auto bits = [](std::size_t v, std::size_t n) {
      std::vector<K> b(ceil_log2(n));
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = (v >> i) & 1 ? K::one() : K::zero();
      return b;
    };
    K sum = K::zero();
    for (std::size_t a = 0; a < op.rows; ++a)
      for (std::size_t j = 0; j < op.cols; ++j) {
        const K m = tap_incidence_mle<K>(s, t, bits(a, op.rows), bits(j, op.cols));
        if (m == K::zero()) continue;
        for (std::size_t k = 0; k < N; ++k) sum += V[a][k] * m * U[j][k];
      }
    EXPECT_EQ(sum, claimed) << "case " << c;
  }
}

TEST(TapIncidence, RefusesDenseLayoutsAndWrongPoints) {
  auto rng = make_rng(1874);
  LinearOp op = random_padded_conv(rng);
  const auto t = random_point<Fp127>(rng, op.conv.kernel_size()), q = random_point<Fp127>(rng, op.rows),
             x = random_point<Fp127>(rng, op.cols);
  auto longer = x;
  longer.push_back(Fp127::one());
  EXPECT_THROW(tap_incidence_mle<Fp127>(op.conv, t, q, longer), std::invalid_argument);
  op.conv.pow2_in = false;
  EXPECT_THROW(tap_incidence_mle<Fp127>(op.conv, t, q, x), std::invalid_argument);
}

}  // namespace
}  // namespace nnproof

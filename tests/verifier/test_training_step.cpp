// SPDX-License-Identifier: Apache-2.0
// The trainer's exact step as the verifier uses it (verifier/training/step.hpp): rdiv_pow2 against
// exact rational rounding, the step's exponents from the scales, and the convergence count.
#include <gtest/gtest.h>

#include <limits>

#include "verifier/training/step.hpp"

namespace nnproof {
namespace {

// round(num / den) with ties away from zero, for den > 0, in plain integers.
i128 rounded(i128 num, i128 den) {
  const i128 m = num < 0 ? -num : num, q = (2 * m + den) / (2 * den);
  return num < 0 ? -q : q;
}

TEST(TrainingStep, RdivMatchesExactRationalRounding) {
  for (i128 a = -70; a <= 70; ++a)
    for (std::uint64_t n = 1; n <= 9; ++n)
      for (int k = -4; k <= 4; ++k) {
        const i128 num = k < 0 ? a << -k : a, den = k > 0 ? static_cast<i128>(n) << k : static_cast<i128>(n);
        const auto q = rdiv_pow2(a, n, k);
        ASSERT_TRUE(q);
        ASSERT_EQ(*q, rounded(num, den)) << static_cast<long long>(a) << " / (" << n << " 2^" << k << ")";
      }
}

TEST(TrainingStep, RdivTiesGoAwayFromZero) {
  EXPECT_EQ(*rdiv_pow2(7, 2, 0), 4);
  EXPECT_EQ(*rdiv_pow2(-7, 2, 0), -4);
  EXPECT_EQ(*rdiv_pow2(6, 1, 2), 2);    // 1.5
  EXPECT_EQ(*rdiv_pow2(-6, 1, 2), -2);  // -1.5
  EXPECT_EQ(*rdiv_pow2(5, 2, 1), 1);    // 1.25
  EXPECT_EQ(*rdiv_pow2(1, 4, -1), 1);   // 0.5
  EXPECT_EQ(*rdiv_pow2(-1, 4, -1), -1);
}

TEST(TrainingStep, RdivAtTheEdges) {
  const i128 top = i128{1} << 126;
  EXPECT_EQ(*rdiv_pow2(top, 1, 127), 1);                                                   // exactly 1/2
  EXPECT_EQ(*rdiv_pow2(top - 1, 1, 127), 0);                                               // just below
  EXPECT_EQ(*rdiv_pow2(top, 1, 128), 0);                                                   // 1/4
  EXPECT_EQ(*rdiv_pow2(-top, 3, 1000), 0);                                                 // divisors past 2^128
  EXPECT_EQ(*rdiv_pow2(std::numeric_limits<i128>::max(), std::uint64_t{1} << 63, 64), 1);  // just below 1
  EXPECT_EQ(*rdiv_pow2(std::numeric_limits<i128>::min(), std::numeric_limits<std::uint64_t>::max(), 64), -1);
  EXPECT_EQ(*rdiv_pow2(1, 1, -126), top);
  EXPECT_FALSE(rdiv_pow2(1, 1, -127));  // 2^127 is past i128
  EXPECT_FALSE(rdiv_pow2(3, 1, -126));
  EXPECT_FALSE(rdiv_pow2(i128{1} << 100, 1, -30));
  EXPECT_EQ(*rdiv_pow2(0, 5, -1000), 0);
  EXPECT_THROW(rdiv_pow2(1, 0, 0), std::invalid_argument);
}

QuantizedModel three_layers(double alpha, double beta) {
  QuantizedModel m;
  m.layers.push_back({2, 2, {1, 0, 0, 1}, {0, 0}, {}, {}});
  m.layers.push_back({2, 2, {1, 0, 0, 1}, {0, 0}, {}, {}});
  m.layers.push_back({1, 2, {1, 1}, {0}, {}, {}});
  m.alpha = alpha;
  m.beta = beta;
  return m;
}

TEST(TrainingStep, ExponentsFromTheScales) {
  // alpha = beta = 16: log2 s_Z = 8, 20, 44. With eta = 2^-6, log2 (s_Z(3)^2 / eta) = 94:
  // k_W = 94 - 2 * 4, k_B(i) = 94 - 2 log2 s_Z(i).
  const StepExponents k = step_exponents(three_layers(16, 16), 6);
  EXPECT_EQ(k.weight, 86);
  EXPECT_EQ(k.bias, (std::vector<int>{78, 54, 6}));
  // alpha = 1/2, beta = 2, one layer: s_Z(1) = 1, so k_W = e - 2 (negative: the step multiplies).
  QuantizedModel one;
  one.layers.push_back({1, 1, {1}, {0}, {}, {}});
  one.alpha = 0.5;
  one.beta = 2;
  EXPECT_EQ(step_exponents(one, 0).weight, -2);
  EXPECT_EQ(step_exponents(one, 0).bias, std::vector<int>{0});
  EXPECT_THROW(step_exponents(three_layers(3, 16), 6), std::invalid_argument);
  EXPECT_THROW(step_exponents(three_layers(16, 0.3), 6), std::invalid_argument);
}

TEST(TrainingStep, WeightsChangedCountsNonzeroSteps) {
  // One layer 1 x 2, alpha = beta = 1, eta = 1: k_W = k_B = 0, so each divisor is N = 4.
  QuantizedModel m;
  m.layers.push_back({1, 2, {3, -1}, {2}, {}, {}});
  TrainingClaims<Fp61> c;
  c.weight_gradients = {{Fp61::from_int(2), Fp61::from_int(1)}};  // 0.5 -> 1, 0.25 -> 0
  c.bias_gradients = {{Fp61::from_int(-2)}};                      // -0.5 -> -1
  EXPECT_EQ(weights_changed(c, 4, 0, m), 2u);
  EXPECT_EQ(weights_changed(c, 5, 0, m), 0u);  // 0.4, 0.2, -0.4
  EXPECT_EQ(weights_total(m), 3u);
  TrainingClaims<Fp127> wide;
  wide.weight_gradients = {{Fp127::from_int(0), Fp127::from_int(-9)}};
  wide.bias_gradients = {{Fp127::from_int(0)}};
  EXPECT_EQ(weights_changed(wide, 4, 0, m), 1u);
  EXPECT_THROW(weights_changed(TrainingClaims<Fp61>{}, 4, 0, m), std::invalid_argument);
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// The convergence verdict's exact test: step_moves(g, n, k) is rdiv(g, n 2^k) != 0 with rdiv the
// quantizer's rounding (nearest, ties away from zero), checked against exact rational arithmetic.
#include <gtest/gtest.h>

#include <random>

#include "verifier/training/convergence.hpp"

namespace nnproof {
namespace {

// rdiv(g, n 2^k) != 0 by brute force: |g| / (n 2^k) >= 1/2, in 128-bit integers for small shifts.
bool moves_reference(i128 g, std::size_t n, int k) {
  const i128 a = g < 0 ? -g : g;
  if (k >= 0) return 2 * a >= static_cast<i128>(n) << k;
  return (2 * a) << -k >= static_cast<i128>(n);
}

TEST(Convergence, StepMovesIsTheExactRoundingTest) {
  std::mt19937_64 rng(41);
  for (int trial = 0; trial < 200000; ++trial) {
    const int k = static_cast<int>(rng() % 40) - 20;
    const std::size_t n = 1 + rng() % 70000;
    const i128 g = static_cast<i128>(static_cast<std::int64_t>(rng() % (std::uint64_t{1} << (rng() % 50)))) *
                   ((rng() & 1) ? 1 : -1);
    ASSERT_EQ(step_moves(g, n, k), moves_reference(g, n, k)) << "n " << n << " k " << k;
  }
  // Ties round away from zero: g = n 2^k / 2 moves; one less does not.
  EXPECT_TRUE(step_moves(4, 8, 0));
  EXPECT_FALSE(step_moves(3, 8, 0));
  EXPECT_TRUE(step_moves(-4, 8, 0));
  EXPECT_TRUE(step_moves(1, 8, -2));   // 1 / 2 rounds to 1
  EXPECT_FALSE(step_moves(1, 8, -1));  // 1 / 4 rounds to 0
  // Extreme shifts saturate instead of overflowing.
  EXPECT_FALSE(step_moves(i128{1} << 100, 1, 120));
  EXPECT_TRUE(step_moves(1, std::size_t{1} << 60, -100));
  EXPECT_FALSE(step_moves(0, 1, -100));
}

TEST(Convergence, ScalesMustBePowersOfTwo) {
  QuantizedModel m;
  m.layers.resize(1);
  m.layers[0].rows = m.layers[0].cols = 1;
  m.alpha = 4;
  m.beta = 3;  // s_Z(1) = 12: not a power of two
  EXPECT_THROW(step_shift(m, m.beta, 3), std::invalid_argument);
  m.beta = 8;  // s_Z(L) = 32, eta = 2^-3: k_W = 2*5 + 3 - 2*3 = 7
  EXPECT_EQ(step_shift(m, m.beta, 3), 7);
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// core/saturating.hpp at its edges: a product or sum that lands exactly on 2^128 - 1 is exact, one
// past it saturates (never wraps to a small bound), and zero times anything is zero.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/saturating.hpp"

namespace nnproof {
namespace {

constexpr u128 kMax = ~u128{0};  // 2^128 - 1, written independently of kSaturated
constexpr u128 k2to64 = u128{1} << 64;

TEST(Saturating, TheSaturationValueIsTheLargestU128) { EXPECT_EQ(kSaturated, kMax); }

TEST(Saturating, ProductsBelowOrAtTheLimitAreExact) {
  EXPECT_EQ(sat_mul(6, 7), 42u);
  // 2^128 - 1 = (2^64 - 1)(2^64 + 1): reaches the limit exactly, in either order.
  const u128 lo = k2to64 - 1, hi = k2to64 + 1;
  EXPECT_EQ(sat_mul(lo, hi), kMax);
  EXPECT_EQ(sat_mul(hi, lo), kMax);
  EXPECT_EQ(sat_mul(1, kMax), kMax);
  EXPECT_EQ(sat_mul(kMax, 1), kMax);
  EXPECT_EQ(sat_mul(u128{1} << 63, 2), u128{1} << 64);
}

TEST(Saturating, ProductsPastTheLimitSaturate) {
  // (2^64 + 1)^2 = 2^128 + 2^65 + 1 would wrap to 2^65 + 1.
  EXPECT_EQ(sat_mul(k2to64 + 1, k2to64 + 1), kMax);
  EXPECT_EQ(sat_mul(k2to64, k2to64), kMax);      // would wrap to 0
  EXPECT_EQ(sat_mul(2, (kMax >> 1) + 1), kMax);  // 2^128: one past the limit
  EXPECT_EQ(sat_mul(kMax, kMax), kMax);
  EXPECT_EQ(sat_mul(kMax, 2), kMax);
}

TEST(Saturating, ZeroTimesAnythingIsZero) {
  EXPECT_EQ(sat_mul(0, 0), 0u);
  EXPECT_EQ(sat_mul(0, kMax), 0u);
  EXPECT_EQ(sat_mul(kMax, 0), 0u);
}

TEST(Saturating, SumsAtTheLimitAreExactAndPastItSaturate) {
  EXPECT_EQ(sat_add(2, 3), 5u);
  EXPECT_EQ(sat_add(0, 0), 0u);
  EXPECT_EQ(sat_add(0, kMax), kMax);
  EXPECT_EQ(sat_add(kMax, 0), kMax);
  EXPECT_EQ(sat_add(kMax - 5, 5), kMax);  // reaches the limit exactly
  EXPECT_EQ(sat_add(kMax - 5, 6), kMax);  // would wrap to 0
  EXPECT_EQ(sat_add(kMax, 1), kMax);
  EXPECT_EQ(sat_add(kMax, kMax), kMax);  // would wrap to 2^128 - 2
  const u128 half = kMax >> 1;           // 2^127 - 1
  EXPECT_EQ(sat_add(half, half + 1), kMax);
  EXPECT_EQ(sat_add(half + 1, half + 1), kMax);  // 2^128: would wrap to 0
}

TEST(Saturating, Abs128IsExactAtEveryExtreme) {
  const i128 min128 = static_cast<i128>(u128{1} << 127);  // -2^127 (C++20: modular conversion)
  EXPECT_EQ(abs128(0), 0u);
  EXPECT_EQ(abs128(-1), 1u);
  EXPECT_EQ(abs128(7), 7u);
  EXPECT_EQ(abs128(std::numeric_limits<std::int64_t>::min()), u128{1} << 63);  // int64's minimum
  EXPECT_EQ(abs128(std::numeric_limits<std::int64_t>::max()), (u128{1} << 63) - 1);
  EXPECT_EQ(abs128(min128), u128{1} << 127);  // its negation overflows i128
  EXPECT_EQ(abs128(min128 + 1), (u128{1} << 127) - 1);
}

// Usable in constant expressions (the functions are constexpr).
static_assert(sat_mul(3, 5) == 15 && sat_add(kMax, 1) == kMax);

}  // namespace
}  // namespace nnproof

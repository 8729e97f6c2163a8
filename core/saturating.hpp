// SPDX-License-Identifier: Apache-2.0
#pragma once
// Saturating unsigned 128-bit arithmetic, and exact magnitudes, for the magnitude bounds
// (verifier/magnitude.cpp, the training bounds, the ops' row sums): a bound that would wrap becomes
// 2^128 - 1 instead, which every check then reads as "too large", never as a small value.
#include "core/hostdevice.hpp"

namespace nnproof {

constexpr u128 kSaturated = ~u128{0};

// a * b, or kSaturated where the product exceeds it.
constexpr u128 sat_mul(u128 a, u128 b) { return a != 0 && b > kSaturated / a ? kSaturated : a * b; }
// a + b, or kSaturated where the sum exceeds it.
constexpr u128 sat_add(u128 a, u128 b) { return a > kSaturated - b ? kSaturated : a + b; }
// |x| for every i128, -2^127 included (its negation would overflow in i128); int64 values too.
constexpr u128 abs128(i128 x) { return x < 0 ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x); }

}  // namespace nnproof

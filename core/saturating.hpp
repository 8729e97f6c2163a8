// SPDX-License-Identifier: Apache-2.0
#pragma once
// Saturating unsigned 128-bit arithmetic for the magnitude bounds (verifier/magnitude.cpp, the
// training bounds, the ops' row sums): a bound that would wrap becomes 2^128 - 1 instead, which
// every check then reads as "too large", never as a small value.
#include "core/hostdevice.hpp"

namespace nnproof {

constexpr u128 kSaturated = ~u128{0};

// a * b, or kSaturated where the product exceeds it.
constexpr u128 sat_mul(u128 a, u128 b) { return a != 0 && b > kSaturated / a ? kSaturated : a * b; }
// a + b, or kSaturated where the sum exceeds it.
constexpr u128 sat_add(u128 a, u128 b) { return a > kSaturated - b ? kSaturated : a + b; }

}  // namespace nnproof

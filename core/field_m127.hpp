// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Mersenne field F_p, p = 2^127 - 1: for deep networks whose values exceed 2^60.
#include "core/hostdevice.hpp"

namespace nnproof {

struct Fp127 {
  static constexpr u128 P = (u128{1} << 127) - 1;
  static constexpr unsigned kBits = 127;
  static constexpr unsigned kBytes = 16;
  u128 v = 0;

  NNP_HD static constexpr Fp127 zero() { return Fp127{0}; }
  NNP_HD static constexpr Fp127 one() { return Fp127{1}; }
  NNP_HD static constexpr Fp127 from_base(Fp127 a) { return a; }
  // Any 128-bit value: 2^127 = 1 (mod p).
  NNP_HD static constexpr Fp127 from_u128(u128 x) {
    u128 r = (x & P) + (x >> 127);
    return Fp127{r >= P ? r - P : r};
  }
  NNP_HD static constexpr Fp127 from_i128(i128 x) {
    return x >= 0 ? from_u128(static_cast<u128>(x)) : -from_u128(static_cast<u128>(-(x + 1)) + 1);
  }
  NNP_HD static constexpr Fp127 from_int(std::int64_t x) { return from_i128(x); }
  NNP_HD constexpr i128 centered() const { return v > P / 2 ? -static_cast<i128>(P - v) : static_cast<i128>(v); }
  NNP_HD constexpr bool is_canonical() const { return v < P; }

  NNP_HD friend constexpr Fp127 operator+(Fp127 a, Fp127 b) {
    u128 s = a.v + b.v;  // < 2^128, no overflow
    return Fp127{s >= P ? s - P : s};
  }
  NNP_HD friend constexpr Fp127 operator-(Fp127 a, Fp127 b) { return Fp127{a.v >= b.v ? a.v - b.v : a.v + P - b.v}; }
  NNP_HD friend constexpr Fp127 operator-(Fp127 a) { return Fp127{a.v == 0 ? 0 : P - a.v}; }
  // Schoolbook 128 x 128 -> 256 bits from four 64 x 64 products, then hi * 2^127 + lo = hi + lo.
  NNP_HD friend constexpr Fp127 operator*(Fp127 a, Fp127 b) { return from_u128(mul_unreduced(a, b)); }
  // a * b mod p as a 128-bit value not yet reduced below p (for sums that reduce once at the end).
  NNP_HD static constexpr u128 mul_unreduced(Fp127 a, Fp127 b) {
    u64 a0 = static_cast<u64>(a.v), a1 = static_cast<u64>(a.v >> 64);
    u64 b0 = static_cast<u64>(b.v), b1 = static_cast<u64>(b.v >> 64);
    u128 m00 = static_cast<u128>(a0) * b0, m11 = static_cast<u128>(a1) * b1;
    u128 mid = static_cast<u128>(a0) * b1 + static_cast<u128>(a1) * b0;  // a1, b1 < 2^63: no overflow
    u128 lo = m00 + (mid << 64);
    u128 hi = m11 + (mid >> 64) + (lo < m00 ? 1 : 0);
    u128 top = (hi << 1) | (lo >> 127);  // product >> 127, < 2^127
    return (lo & P) + top;               // < 2^128
  }
  NNP_HD Fp127& operator+=(Fp127 b) { return *this = *this + b; }
  NNP_HD Fp127& operator-=(Fp127 b) { return *this = *this - b; }
  NNP_HD Fp127& operator*=(Fp127 b) { return *this = *this * b; }
  NNP_HD friend constexpr bool operator==(Fp127 a, Fp127 b) { return a.v == b.v; }
  NNP_HD friend constexpr bool operator!=(Fp127 a, Fp127 b) { return a.v != b.v; }

  NNP_HD constexpr Fp127 square() const { return *this * *this; }
  NNP_HD constexpr Fp127 pow(u128 e) const {
    Fp127 r = one(), b = *this;
    for (; e; e >>= 1, b = b * b)
      if (e & 1) r = r * b;
    return r;
  }
  NNP_HD constexpr Fp127 inverse() const { return pow(P - 2); }

  NNP_HD void to_bytes(unsigned char* out) const {
    for (unsigned i = 0; i < kBytes; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
  }
  static bool from_bytes(const unsigned char* in, Fp127& out) {
    u128 x = 0;
    for (unsigned i = 0; i < kBytes; ++i) x |= static_cast<u128>(in[i]) << (8 * i);
    out.v = x;
    return x < P;
  }
};

#if !defined(__CUDA_ARCH__)  // device multiplies use intrinsics, which are not constexpr
static_assert((Fp127{Fp127::P - 1} * Fp127{Fp127::P - 1}).v == 1);
#endif
static_assert(Fp127::from_int(-5).centered() == -5);

}  // namespace nnproof

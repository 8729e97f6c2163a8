// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Mersenne field F_p, p = 2^61 - 1. Elements are stored canonically in [0, p).
#include <cstring>

#include "core/hostdevice.hpp"

namespace nnproof {

struct Fp61 {
  static constexpr u64 P = (u64{1} << 61) - 1;
  static constexpr unsigned kBits = 61;
  static constexpr unsigned kBytes = 8;  // serialized width, little-endian
  u64 v = 0;

  NNP_HD static constexpr Fp61 zero() { return Fp61{0}; }
  NNP_HD static constexpr Fp61 one() { return Fp61{1}; }
  NNP_HD static constexpr Fp61 from_base(Fp61 a) { return a; }
  // Reduces any 64-bit value: 2^61 = 1 (mod p), so fold the top 3 bits onto the bottom.
  NNP_HD static constexpr Fp61 from_u64(u64 x) {
    u64 r = (x & P) + (x >> 61);
    return Fp61{r >= P ? r - P : r};
  }
  // Reduces any 128-bit value (e.g. a lazy sum of up to 64 products): split into 61-bit pieces.
  NNP_HD static constexpr Fp61 from_u128(u128 x) {
    u64 a = static_cast<u64>(x) & P, b = static_cast<u64>(x >> 61) & P, c = static_cast<u64>(x >> 122);
    return from_u64(a + b + c);  // < 3 * 2^61 fits 64 bits
  }
  // Any signed integer enters the field as x mod p.
  NNP_HD static constexpr Fp61 from_int(std::int64_t x) {
    return x >= 0 ? from_u64(static_cast<u64>(x)) : -from_u64(static_cast<u64>(-(x + 1)) + 1);
  }
  NNP_HD static constexpr Fp61 from_i128(i128 x) {
    bool neg = x < 0;
    u128 m = neg ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x);
    Fp61 r = from_u128(m);
    return neg ? -r : r;
  }
  // Centered representative in [-(p-1)/2, (p-1)/2].
  NNP_HD constexpr std::int64_t centered() const {
    return v > P / 2 ? -static_cast<std::int64_t>(P - v) : static_cast<std::int64_t>(v);
  }
  NNP_HD constexpr bool is_canonical() const { return v < P; }

  NNP_HD friend constexpr Fp61 operator+(Fp61 a, Fp61 b) {
    u64 s = a.v + b.v;
    return Fp61{s >= P ? s - P : s};
  }
  NNP_HD friend constexpr Fp61 operator-(Fp61 a, Fp61 b) { return Fp61{a.v >= b.v ? a.v - b.v : a.v + P - b.v}; }
  NNP_HD friend constexpr Fp61 operator-(Fp61 a) { return Fp61{a.v == 0 ? 0 : P - a.v}; }
  NNP_HD friend constexpr Fp61 operator*(Fp61 a, Fp61 b) {
#if defined(__CUDA_ARCH__)
    u64 lo = a.v * b.v, hi = __umul64hi(a.v, b.v);
    u64 r = (lo & P) + ((lo >> 61) | (hi << 3));  // product < 2^122: (hi:lo) >> 61 fits 64 bits
    return Fp61{r >= P ? r - P : r};
#else
    u128 prod = static_cast<u128>(a.v) * b.v;
    u64 r = (static_cast<u64>(prod) & P) + static_cast<u64>(prod >> 61);
    return Fp61{r >= P ? r - P : r};
#endif
  }
  NNP_HD Fp61& operator+=(Fp61 b) { return *this = *this + b; }
  NNP_HD Fp61& operator-=(Fp61 b) { return *this = *this - b; }
  NNP_HD Fp61& operator*=(Fp61 b) { return *this = *this * b; }
  NNP_HD friend constexpr bool operator==(Fp61 a, Fp61 b) { return a.v == b.v; }
  NNP_HD friend constexpr bool operator!=(Fp61 a, Fp61 b) { return a.v != b.v; }

  NNP_HD constexpr Fp61 square() const { return *this * *this; }
  NNP_HD constexpr Fp61 pow(u128 e) const {
    Fp61 r = one(), b = *this;
    for (; e; e >>= 1, b = b * b)
      if (e & 1) r = r * b;
    return r;
  }
  NNP_HD constexpr Fp61 inverse() const { return pow(P - 2); }  // Fermat; inverse(0) = 0

  // Serialization: kBytes little-endian. Parsing refuses values >= p (non-canonical).
  NNP_HD void to_bytes(unsigned char* out) const {
    for (unsigned i = 0; i < kBytes; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
  }
  static bool from_bytes(const unsigned char* in, Fp61& out) {
    u64 x = 0;
    for (unsigned i = 0; i < kBytes; ++i) x |= static_cast<u64>(in[i]) << (8 * i);
    out.v = x;
    return x < P;
  }
};

static_assert(Fp61::P == 0x1FFFFFFFFFFFFFFFull);
#if !defined(__CUDA_ARCH__)  // device multiplies use intrinsics, which are not constexpr
static_assert((Fp61{Fp61::P - 1} * Fp61{Fp61::P - 1}).v == 1);  // (-1)^2 = 1
#endif
static_assert(Fp61::from_int(-1).v == Fp61::P - 1);
static_assert(Fp61{Fp61::P % 4}.v == 3, "p = 3 mod 4, so i^2 = -1 is irreducible");

}  // namespace nnproof

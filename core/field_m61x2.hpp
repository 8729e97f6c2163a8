// SPDX-License-Identifier: Apache-2.0
#pragma once
// The quadratic extension K = F_p[i] / (i^2 + 1) of the m61 field: the challenge field of the
// default mode, ~2^122 elements. p = 3 (mod 4), so -1 is not a square and i^2 = -1 is irreducible.
#include "core/field_m61.hpp"

namespace nnproof {

struct Fp61x2 {
  static constexpr unsigned kBytes = 2 * Fp61::kBytes;
  Fp61 re, im;

  NNP_HD static constexpr Fp61x2 zero() { return {Fp61::zero(), Fp61::zero()}; }
  NNP_HD static constexpr Fp61x2 one() { return {Fp61::one(), Fp61::zero()}; }
  NNP_HD static constexpr Fp61x2 from_base(Fp61 a) { return {a, Fp61::zero()}; }
  NNP_HD static constexpr Fp61x2 from_int(std::int64_t x) { return from_base(Fp61::from_int(x)); }
  NNP_HD constexpr bool is_canonical() const { return re.is_canonical() && im.is_canonical(); }

  NNP_HD friend constexpr Fp61x2 operator+(Fp61x2 a, Fp61x2 b) { return {a.re + b.re, a.im + b.im}; }
  NNP_HD friend constexpr Fp61x2 operator-(Fp61x2 a, Fp61x2 b) { return {a.re - b.re, a.im - b.im}; }
  NNP_HD friend constexpr Fp61x2 operator-(Fp61x2 a) { return {-a.re, -a.im}; }
  // (a + bi)(c + di) = (ac - bd) + (ad + bc) i. Both parts are sums of two canonical products
  // (< 2^123), reduced once; -bd is computed as b * (p - d).
  NNP_HD friend constexpr Fp61x2 operator*(Fp61x2 x, Fp61x2 y) {
    u128 re = static_cast<u128>(x.re.v) * y.re.v + static_cast<u128>(x.im.v) * (-y.im).v;
    u128 im = static_cast<u128>(x.re.v) * y.im.v + static_cast<u128>(x.im.v) * y.re.v;
    return {Fp61::from_u128(re), Fp61::from_u128(im)};
  }
  NNP_HD friend constexpr Fp61x2 operator*(Fp61x2 x, Fp61 f) { return {x.re * f, x.im * f}; }
  NNP_HD Fp61x2& operator+=(Fp61x2 b) { return *this = *this + b; }
  NNP_HD Fp61x2& operator-=(Fp61x2 b) { return *this = *this - b; }
  NNP_HD Fp61x2& operator*=(Fp61x2 b) { return *this = *this * b; }
  NNP_HD friend constexpr bool operator==(Fp61x2 a, Fp61x2 b) { return a.re == b.re && a.im == b.im; }
  NNP_HD friend constexpr bool operator!=(Fp61x2 a, Fp61x2 b) { return !(a == b); }

  // (a + bi)^2 = (a + b)(a - b) + 2ab i: two base products instead of four.
  NNP_HD constexpr Fp61x2 square() const {
    Fp61 ab = re * im;
    return {(re + im) * (re - im), ab + ab};
  }
  // 1 / (a + bi) = (a - bi) / (a^2 + b^2); a^2 + b^2 = 0 only for 0 since -1 is not a square.
  NNP_HD constexpr Fp61x2 inverse() const {
    Fp61 n = (re * re + im * im).inverse();
    return {re * n, -im * n};
  }

  NNP_HD void to_bytes(unsigned char* out) const {
    re.to_bytes(out);
    im.to_bytes(out + Fp61::kBytes);
  }
  static bool from_bytes(const unsigned char* in, Fp61x2& out) {
    bool a = Fp61::from_bytes(in, out.re);
    bool b = Fp61::from_bytes(in + Fp61::kBytes, out.im);
    return a && b;
  }
};

#if !defined(__CUDA_ARCH__)  // device multiplies use intrinsics, which are not constexpr
static_assert((Fp61x2{Fp61::zero(), Fp61::one()} * Fp61x2{Fp61::zero(), Fp61::one()}) == Fp61x2::from_int(-1));
#endif

}  // namespace nnproof

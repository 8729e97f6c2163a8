// SPDX-License-Identifier: Apache-2.0
#pragma once
// Exact sums with deferred reduction, for the O(nnz) and O(n b) passes of prover and verifier.
//
// ExactIntSums: small integers times elements of K. m127 cuts each element into 31-bit limbs
// (KLimbs), so a product |w| * limb < |w| 2^31 and a whole sum fits an int64 while sum |w| < 2^32;
// the m61 family takes its 64-bit coordinates into 128-bit sums (M61Coords). The inner loops are
// then plain integer multiply-adds.
//
// LazyDot: base-field values times K with reduction once per 32 terms (canonical m61 products are
// below 2^122, so 32 of them fit in 128 bits); m127 products unreduced, with a count of the carries
// out of 128 bits. LazyDots: N such sums sharing their K factor.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"

namespace nnproof {

// Sums of |w| up to this bound keep every KLimbs accumulator exact.
constexpr std::uint64_t kMaxLimbWeightSum = (std::uint64_t{1} << 32) - 1;

template <class K>
struct KLimbs;

template <>
struct KLimbs<Fp127> {
  static constexpr unsigned kCount = 5;  // 5 x 31 bits >= 127
  NNP_HD static void split(Fp127 x, std::int64_t* out) {
    for (unsigned i = 0; i < kCount; ++i) out[i] = static_cast<std::int64_t>((x.v >> (31 * i)) & 0x7FFFFFFF);
  }
  NNP_HD static Fp127 join(const std::int64_t* acc) {
    Fp127 r = Fp127::zero();
    for (unsigned i = 0; i < kCount; ++i) r += Fp127::from_int(acc[i]) * Fp127{u128{1} << (31 * i)};
    return r;
  }
};

// The m61 family (K = F or its extension) as C canonical 64-bit coordinates. A weight below 2^31
// in magnitude times a coordinate (< 2^61) summed over fewer than 2^35 terms stays below 2^127, so
// sums of small integers times K need two 64 x 64 -> 128-bit products per term, and no limbs.
template <class K>
struct M61Coords;
template <>
struct M61Coords<Fp61> {
  static constexpr unsigned kCount = 1;
  NNP_HD static std::int64_t get(Fp61 x, unsigned) { return static_cast<std::int64_t>(x.v); }
  NNP_HD static Fp61 make(const i128* acc) { return Fp61::from_i128(acc[0]); }
};
template <>
struct M61Coords<Fp61x2> {
  static constexpr unsigned kCount = 2;
  NNP_HD static std::int64_t get(Fp61x2 x, unsigned c) { return static_cast<std::int64_t>(c == 0 ? x.re.v : x.im.v); }
  NNP_HD static Fp61x2 make(const i128* acc) { return {Fp61::from_i128(acc[0]), Fp61::from_i128(acc[1])}; }
};

// Whether `terms` products of an int8 (|w| <= 128) and a byte (<= 255) sum exactly in an int32:
// the bound of every int8 x byte route (the limb GEMMs, the prover's column sums).
constexpr bool int8_byte_sums_exact(std::size_t terms) { return terms * 128 * 255 < (std::size_t{1} << 31); }

// Small integers (weights stored in `width_bytes`-byte integers) times elements of K, summed
// exactly: each element as kCount int64 pieces, the sums in Acc, joined mod p at the end. One
// definition for the prover's row_combine (sums over a column) and the verifier's W~(q, s) (dots
// along a row). The m61 family: its canonical 64-bit coordinates (M61Coords), 128-bit sums, exact
// for widths up to 4 bytes and fewer than 2^35 terms. m127: 31-bit limbs (KLimbs), int64 sums,
// exact while sum |w| <= kMaxLimbWeightSum, which the storage width bounds a priori (no scan).
template <class K>
struct ExactIntSums {  // the m61 family
  using Acc = i128;
  static constexpr unsigned kCount = M61Coords<K>::kCount;
  static constexpr bool exact(unsigned width_bytes, std::size_t terms) {
    return width_bytes <= 4 && terms < (std::size_t{1} << 35);
  }
  NNP_HD static void split(K x, std::int64_t* out) {
    for (unsigned c = 0; c < kCount; ++c) out[c] = M61Coords<K>::get(x, c);
  }
  NNP_HD static K join(const Acc* acc) { return M61Coords<K>::make(acc); }
};
template <>
struct ExactIntSums<Fp127> {
  using Acc = std::int64_t;
  static constexpr unsigned kCount = KLimbs<Fp127>::kCount;
  static constexpr bool exact(unsigned width_bytes, std::size_t terms) {
    return (u128{1} << (8 * width_bytes - 1)) * terms <= kMaxLimbWeightSum;
  }
  NNP_HD static void split(Fp127 x, std::int64_t* out) { KLimbs<Fp127>::split(x, out); }
  NNP_HD static Fp127 join(const Acc* acc) { return KLimbs<Fp127>::join(acc); }
};

// sum_i w[i] * e[i] for n small integers w within ExactIntSums<K>::exact and K elements given as
// their pieces (pieces[i * kCount + c], ExactIntSums<K>::split).
template <class K, class W>
K exact_int_dot(const W* w, const std::int64_t* pieces, std::size_t n) {
  using Sums = ExactIntSums<K>;
  constexpr unsigned C = Sums::kCount;
  std::array<typename Sums::Acc, C> acc{};
  for (std::size_t i = 0; i < n; ++i)
    for (unsigned c = 0; c < C; ++c)
      acc[c] += static_cast<typename Sums::Acc>(static_cast<std::int64_t>(w[i])) * pieces[i * C + c];
  return Sums::join(acc.data());
}

// The pieces of every element of e (ExactIntSums<K>::split), element after element.
template <class K>
std::vector<std::int64_t> exact_int_pieces(std::span<const K> e) {
  constexpr unsigned C = ExactIntSums<K>::kCount;
  std::vector<std::int64_t> out(e.size() * C);
  for (std::size_t i = 0; i < e.size(); ++i) ExactIntSums<K>::split(e[i], out.data() + i * C);
  return out;
}

// sum_i e[i] * f[i] for e in K and f in the base field.
template <class K, class F>
struct LazyDot {
  K acc = K::zero();
  NNP_HD void add(K e, F f) { acc += mul_base(e, f); }
  NNP_HD K result() { return acc; }
};

template <>
struct LazyDot<Fp61x2, Fp61> {
  u128 re = 0, im = 0;
  unsigned pending = 0;
  NNP_HD void add(Fp61x2 e, Fp61 f) {
    re += static_cast<u128>(e.re.v) * f.v;
    im += static_cast<u128>(e.im.v) * f.v;
    if (++pending == 32) reduce();
  }
  NNP_HD void reduce() {
    re = Fp61::from_u128(re).v;
    im = Fp61::from_u128(im).v;
    pending = 0;
  }
  NNP_HD Fp61x2 result() { return {Fp61::from_u128(re), Fp61::from_u128(im)}; }
};

// N sums sharing their K factor: sum_k e[k] f_i[k] for i < N, one add per k. The m61 extension
// keeps one pending count for all N sums (one test per term instead of N).
template <class K, class F, std::size_t N>
struct LazyDots {
  std::array<LazyDot<K, F>, N> dots;
  NNP_HD void add(K e, const std::array<F, N>& f) {
    for (std::size_t i = 0; i < N; ++i) dots[i].add(e, f[i]);
  }
  NNP_HD std::array<K, N> result() {
    std::array<K, N> r;
    for (std::size_t i = 0; i < N; ++i) r[i] = dots[i].result();
    return r;
  }
};

template <std::size_t N>
struct LazyDots<Fp61x2, Fp61, N> {
  std::array<u128, N> re{}, im{};
  unsigned pending = 0;
  NNP_HD void add(Fp61x2 e, const std::array<Fp61, N>& f) {
    for (std::size_t i = 0; i < N; ++i) {
      re[i] += static_cast<u128>(e.re.v) * f[i].v;
      im[i] += static_cast<u128>(e.im.v) * f[i].v;
    }
    if (++pending == 32) {  // 32 canonical products (< 2^122 each) fit 128 bits
      for (std::size_t i = 0; i < N; ++i) re[i] = Fp61::from_u128(re[i]).v, im[i] = Fp61::from_u128(im[i]).v;
      pending = 0;
    }
  }
  NNP_HD std::array<Fp61x2, N> result() {
    std::array<Fp61x2, N> r;
    for (std::size_t i = 0; i < N; ++i) r[i] = {Fp61::from_u128(re[i]), Fp61::from_u128(im[i])};
    return r;
  }
};

// K x K by Karatsuba: (a + bi)(c + di) = (ac - bd) + ((a + b)(c + d) - ac - bd) i, three products
// per term instead of four. (a + b)(c + d) < 2^124, so the sums are reduced every 8 terms.
template <>
struct LazyDot<Fp61x2, Fp61x2> {
  u128 ac = 0, bd = 0, cross = 0;
  unsigned pending = 0;
  NNP_HD void add(Fp61x2 e, Fp61x2 f) {
    ac += static_cast<u128>(e.re.v) * f.re.v;
    bd += static_cast<u128>(e.im.v) * f.im.v;
    cross += static_cast<u128>(e.re.v + e.im.v) * (f.re.v + f.im.v);
    if (++pending == 8) {
      ac = Fp61::from_u128(ac).v;
      bd = Fp61::from_u128(bd).v;
      cross = Fp61::from_u128(cross).v;
      pending = 0;
    }
  }
  NNP_HD Fp61x2 result() {
    const Fp61 a = Fp61::from_u128(ac), b = Fp61::from_u128(bd), c = Fp61::from_u128(cross);
    return {a - b, c - a - b};
  }
};

// m127: each product as mul_unreduced's 128-bit value, summed with a count of the carries out of
// 128 bits (2^128 = 2 mod p): no reduction per term.
template <>
struct LazyDot<Fp127, Fp127> {
  u128 acc = 0;
  std::uint64_t carries = 0;
  NNP_HD void add(Fp127 e, Fp127 f) {
    const u128 x = Fp127::mul_unreduced(e, f);
    acc += x;
    carries += acc < x ? 1 : 0;
  }
  NNP_HD Fp127 result() { return Fp127::from_u128(acc) + Fp127::from_u128(u128{carries} * 2); }
};

template <>
struct LazyDot<Fp61, Fp61> {
  u128 acc = 0;
  unsigned pending = 0;
  NNP_HD void add(Fp61 e, Fp61 f) {
    acc += static_cast<u128>(e.v) * f.v;
    if (++pending == 32) acc = Fp61::from_u128(acc).v, pending = 0;
  }
  NNP_HD Fp61 result() { return Fp61::from_u128(acc); }
};

}  // namespace nnproof

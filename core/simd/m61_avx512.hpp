// SPDX-License-Identifier: Apache-2.0
#pragma once
// AVX-512 (F, IFMA) arithmetic of m61 and of K = F_{p^2}, eight lanes per register, shared by the
// verifier's row dots (row_dots.cpp) and the prover's activation sum-check kernels
// (kernels/cpu/m61_kernels.cpp). Products of two elements go through 32-bit halves (vpmuludq),
// reduced mod p; sums of products stay unreduced in 52-bit limbs (IFMA multiply-adds into three
// 64-bit accumulators, weights 1, 2^52 and 2^104), reduced once at the end. Every function carries
// its target attribute: include this anywhere, call it only where the CPU has AVX-512 F and IFMA.
#include <cstddef>
#include <cstdint>

#include "core/fields.hpp"
#include "core/simd/x86.hpp"

#ifdef NNP_X86_KERNELS
#define NNP_M61_AVX512 1
#ifndef NNP_AVX512_IFMA
#define NNP_AVX512_IFMA __attribute__((target("avx512f,avx512ifma")))
#endif

namespace nnproof::m61_avx512 {

constexpr std::uint64_t kLow52 = (std::uint64_t{1} << 52) - 1;

NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)

// Eight elements of K, split into coordinates.
struct KVec {
  __m512i re, im;
};

// Eight canonical m61 values per register, and eight elements of K as two such registers.
struct M61x8 {
  __m512i p, p2, low52, even, odd, first_half, second_half;
  NNP_AVX512_IFMA M61x8()
      : p(_mm512_set1_epi64(static_cast<long long>(Fp61::P))),
        p2(_mm512_set1_epi64(static_cast<long long>(2 * Fp61::P))),
        low52(_mm512_set1_epi64(static_cast<long long>(kLow52))),
        even(_mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14)),
        odd(_mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15)),
        first_half(_mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11)),
        second_half(_mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15)) {}

  // x - p where x >= p, else x (x < 2p): the wrapped difference of a smaller x is the larger.
  NNP_AVX512_IFMA __m512i reduce_once(__m512i x) const { return _mm512_min_epu64(x, _mm512_sub_epi64(x, p)); }
  // Any x < 2^64 to [0, 2^61 + 8), then canonical.
  NNP_AVX512_IFMA __m512i fold61(__m512i x) const { return reduce_once(fold61_lazy(x)); }
  // a^2 mod p, canonical (the forward pass's activation, m61_square_entries).
  NNP_AVX512_IFMA __m512i square(__m512i a) const { return reduce_once(square_lazy(a)); }

  // The lazy forms below leave out the last reduce_once: their results are congruent mod p and
  // below 2^61 + 8, which the multiplies below and sums of products in 52-bit limbs (Limbs52,
  // Lazy52) take as they are. On Zen 4, reduce_once's vpminuq runs on the two pipes of the
  // multiplies (docs/PERFORMANCE.md, session 10).
  NNP_AVX512_IFMA __m512i fold61_lazy(__m512i x) const {
    return _mm512_add_epi64(_mm512_and_si512(x, p), _mm512_srli_epi64(x, 61));
  }
  // a + p - b for a < 2^62 and b <= p: congruent to a - b, below 2^62 + 2^61.
  NNP_AVX512_IFMA __m512i sub_lazy(__m512i a, __m512i b) const { return _mm512_sub_epi64(_mm512_add_epi64(a, p), b); }
  // The product hh 2^64 + mid 2^32 + ll (hh < 2^60, mid < 2^63) mod p: 2^64 = 8 and 2^61 = 1, so
  // mid 2^32 = (mid >> 29) + (mid mod 2^29) 2^32 and ll = (ll >> 61) + (ll mod 2^61); the pieces
  // sum below 2^64.
  NNP_AVX512_IFMA __m512i product_pieces(__m512i ll, __m512i mid, __m512i hh) const {
    __m512i t = _mm512_add_epi64(_mm512_slli_epi64(hh, 3), _mm512_srli_epi64(mid, 29));
    t = _mm512_add_epi64(t, _mm512_and_si512(_mm512_slli_epi64(mid, 32), p));
    t = _mm512_add_epi64(t, _mm512_srli_epi64(ll, 61));
    return _mm512_add_epi64(t, _mm512_and_si512(ll, p));
  }
  // a b mod p from 32-bit halves, for a, b < 2^62 + 2^32: a = ah 2^32 + al (ah <= 2^30), likewise b.
  NNP_AVX512_IFMA __m512i mul_lazy(__m512i a, __m512i b) const { return fold61_lazy(mul_wide(a, b)); }
  NNP_AVX512_IFMA __m512i square_lazy(__m512i a) const { return fold61_lazy(square_wide(a)); }
  // The same below 2^64 only (product_pieces' sum, not folded): for Limbs52, nothing else.
  NNP_AVX512_IFMA __m512i mul_wide(__m512i a, __m512i b) const {
    const __m512i ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
    const __m512i mid = _mm512_add_epi64(_mm512_mul_epu32(a, bh), _mm512_mul_epu32(ah, b));
    return product_pieces(_mm512_mul_epu32(a, b), mid, _mm512_mul_epu32(ah, bh));
  }
  NNP_AVX512_IFMA __m512i square_wide(__m512i a) const {
    const __m512i ah = _mm512_srli_epi64(a, 32), cross = _mm512_mul_epu32(a, ah);
    return product_pieces(_mm512_mul_epu32(a, a), _mm512_add_epi64(cross, cross), _mm512_mul_epu32(ah, ah));
  }
  // (a + bi)^2 = (a + b)(a - b) + 2ab i, lazily: for coordinates below 2^61 + 8, a result's real
  // part below 2^61 + 8 and its imaginary part below 2^62 + 16.
  NNP_AVX512_IFMA KVec square_lazy(KVec x) const {
    const __m512i re =
        mul_lazy(_mm512_add_epi64(x.re, x.im), fold61_lazy(_mm512_sub_epi64(_mm512_add_epi64(x.re, p2), x.im)));
    const __m512i ab = mul_lazy(x.re, x.im);
    return {re, _mm512_add_epi64(ab, ab)};
  }
  NNP_AVX512_IFMA KVec load(const Fp61x2* src) const {
    const __m512i v0 = _mm512_loadu_si512(src), v1 = _mm512_loadu_si512(src + 4);
    return {_mm512_permutex2var_epi64(v0, even, v1), _mm512_permutex2var_epi64(v0, odd, v1)};
  }
  NNP_AVX512_IFMA void store(Fp61x2* dst, KVec x) const {
    _mm512_storeu_si512(dst, _mm512_permutex2var_epi64(x.re, first_half, x.im));
    _mm512_storeu_si512(dst + 4, _mm512_permutex2var_epi64(x.re, second_half, x.im));
  }
};

// Eight values from p, or the first n < 8 of them and zeros. Where the register is full, a plain
// load: masked loads, even with every lane set, made the group sums 16% slower on Zen 4.
NNP_AVX512_IFMA inline __m512i load_up_to_8(const Fp61* p, std::size_t n) {
  static_assert(sizeof(Fp61) == 8);
  if (n >= 8) return _mm512_loadu_si512(p);
  return _mm512_maskz_loadu_epi64(static_cast<__mmask8>((1u << n) - 1), p);
}

// A value x < 2^64 cut at bit 52: x = hi 2^52 + lo, hi < 2^12 (< 2^9 for canonical m61 values).
struct Limbs52 {
  __m512i lo, hi;
  NNP_AVX512_IFMA static Limbs52 of(__m512i x, const M61x8& f) {
    return {_mm512_and_si512(x, f.low52), _mm512_srli_epi64(x, 52)};
  }
  NNP_AVX512_IFMA static Limbs52 broadcast(Fp61 x) {
    return {_mm512_set1_epi64(static_cast<long long>(x.v & kLow52)),
            _mm512_set1_epi64(static_cast<long long>(x.v >> 52))};
  }
  NNP_AVX512_IFMA static Limbs52 load(const std::uint64_t* lo, const std::uint64_t* hi) {
    return {_mm512_loadu_si512(lo), _mm512_loadu_si512(hi)};
  }
};

// A sum of products e x, exact: with e and x cut at bit 52, each 52-bit multiply-add adds the low
// or high 52 bits of a partial product to the accumulator of its weight 1, 2^52 or 2^104. Every
// addend is below 2^52, so a lane takes 4096 of them before it could wrap; a product adds at most
// three to one accumulator. Any e, x < 2^64 are exact as long as e.hi x.hi < 2^52, the one
// partial product taken without its high half: here e.hi < 2^10 (a weight, or a sum of two) and
// x.hi < 2^12 (x lazily reduced, M61x8).
struct Lazy52 {
  __m512i lo, mid, hi;
  NNP_AVX512_IFMA Lazy52() : lo(_mm512_setzero_si512()), mid(_mm512_setzero_si512()), hi(_mm512_setzero_si512()) {}
  NNP_AVX512_IFMA void add(Limbs52 e, Limbs52 x) {
    lo = _mm512_madd52lo_epu64(lo, e.lo, x.lo);
    mid = _mm512_madd52hi_epu64(mid, e.lo, x.lo);
    mid = _mm512_madd52lo_epu64(mid, e.hi, x.lo);
    mid = _mm512_madd52lo_epu64(mid, e.lo, x.hi);
    hi = _mm512_madd52hi_epu64(hi, e.hi, x.lo);
    hi = _mm512_madd52hi_epu64(hi, e.lo, x.hi);
    hi = _mm512_madd52lo_epu64(hi, e.hi, x.hi);  // e.hi x.hi < 2^52: no high part
  }
  // Each lane's lo + mid 2^52 + hi 2^104 mod p, canonical: with 2^61 = 1, mid 2^52 is
  // (mid >> 9) + (mid mod 2^9) 2^52 and hi 2^104 = hi 2^43 is (hi >> 18) + (hi mod 2^18) 2^43.
  NNP_AVX512_IFMA __m512i lanes(const M61x8& f) const { return f.reduce_once(lanes_lazy(f)); }
  // The same below 2^61 + 8, not yet canonical.
  NNP_AVX512_IFMA __m512i lanes_lazy(const M61x8& f) const {
    __m512i t = _mm512_add_epi64(_mm512_and_si512(lo, f.p), _mm512_srli_epi64(lo, 61));
    t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(mid, _mm512_set1_epi64(511)), 52));
    t = _mm512_add_epi64(t, _mm512_srli_epi64(mid, 9));
    t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(hi, _mm512_set1_epi64((1 << 18) - 1)), 43));
    return f.fold61_lazy(_mm512_add_epi64(t, _mm512_srli_epi64(hi, 18)));  // six pieces below 2^61
  }
  // The sum over the eight lanes, mod p.
  NNP_AVX512_IFMA Fp61 total() const {
    alignas(64) std::uint64_t l[8], m[8], h[8];
    _mm512_store_si512(l, lo), _mm512_store_si512(m, mid), _mm512_store_si512(h, hi);
    u128 sl = 0, sm = 0, sh = 0;
    for (unsigned i = 0; i < 8; ++i) sl += l[i], sm += m[i], sh += h[i];
    return Fp61::from_u128(sl) + Fp61::from_u128(sm) * Fp61{std::uint64_t{1} << 52} +
           Fp61::from_u128(sh) * Fp61{std::uint64_t{1} << 43};
  }
};

// An element of K per lane as three values cut at bit 52: re, im and re + im, unreduced. For the
// weights (canonical coordinates) re + im < 2^62, a high limb below 2^10; for square_lazy's
// results re + im < 2^63, below 2^11: the high limbs' products stay below 2^52, as Lazy52 requires.
struct Limbs52K {
  Limbs52 re, im, sum;
  NNP_AVX512_IFMA static Limbs52K of(KVec x, const M61x8& f) {
    return {Limbs52::of(x.re, f), Limbs52::of(x.im, f), Limbs52::of(_mm512_add_epi64(x.re, x.im), f)};
  }
  // From the coordinates' limbs (M61ColumnWeights).
  NNP_AVX512_IFMA static Limbs52K of(Limbs52 re, Limbs52 im, const M61x8& f) {
    const __m512i lo = _mm512_add_epi64(re.lo, im.lo);
    const __m512i hi = _mm512_add_epi64(_mm512_add_epi64(re.hi, im.hi), _mm512_srli_epi64(lo, 52));
    return {re, im, {_mm512_and_si512(lo, f.low52), hi}};
  }
};

// A sum of products of two elements of K: (a + bi)(c + di) = (ac - bd) + (ad + bc) i, with
// ad + bc = (a + b)(c + d) - ac - bd (Karatsuba: three products of 52-bit limbs, not four). The
// three sums are kept apart and combined once, at the end.
struct LazyK {
  Lazy52 ac, bd, sum;
  NNP_AVX512_IFMA LazyK() : ac(), bd(), sum() {}
  NNP_AVX512_IFMA void add(const Limbs52K& x, const Limbs52K& y) {
    ac.add(x.re, y.re), bd.add(x.im, y.im), sum.add(x.sum, y.sum);
  }
  NNP_AVX512_IFMA Fp61x2 total() const {
    const Fp61 ac_total = ac.total(), bd_total = bd.total();
    return {ac_total - bd_total, sum.total() - ac_total - bd_total};
  }
};

// Columns per flush of the accumulators: 512 steps of eight, at most six addends each (< 4096).
constexpr std::size_t kFlushColumns = 8 * 512;

NNP_AVX512_WARNINGS_ON

}  // namespace nnproof::m61_avx512
#endif

// SPDX-License-Identifier: Apache-2.0
#pragma once
// AVX-512 (F, IFMA) arithmetic of m127, eight lanes per register, shared by the verifier's row
// dots (row_dots.cpp) and the prover's activation sum-check kernels
// (kernels/cpu/m127_kernels.cpp): each 127-bit value in three limbs of radix 2^52 (52, 52 and up
// to 24 bits); a product is 17 multiply-adds of 52-bit limbs into five 64-bit accumulators
// (weights 2^0 .. 2^208). Every function carries its target attribute: include this anywhere, call
// it only where the CPU has AVX-512 F and IFMA.
#include <cstddef>
#include <cstdint>

#include "core/fields.hpp"
#include "core/simd/x86.hpp"

#ifdef NNP_X86_KERNELS
#define NNP_M127_AVX512 1
#ifndef NNP_AVX512_IFMA
#define NNP_AVX512_IFMA __attribute__((target("avx512f,avx512ifma")))
#endif

namespace nnproof::m127_avx512 {

constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1, kMask23 = (std::uint64_t{1} << 23) - 1;

NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)

// Eight values v = l0 + l1 2^52 + l2 2^104, "normalized": l0, l1 < 2^52 and l2 <= 2^23, so
// v < 2^128 (congruent to the element, not always below p; the sums reduce at the end).
struct V3 {
  __m512i l0, l1, l2;
};

// Five accumulators of weights 2^0, 2^52, 2^104, 2^156, 2^208 (products of two V3).
struct W5 {
  __m512i w[5];
  NNP_AVX512_IFMA W5() {
    for (auto& x : w) x = _mm512_setzero_si512();
  }
  // += a b: the low and high 52 bits of each limb product a_i b_j go to weights i + j and i + j + 1
  // (a2 b2 < 2^48 has no high part). Each accumulator takes at most five addends below 2^52.
  NNP_AVX512_IFMA void mac(const V3& a, const V3& b) {
    w[0] = _mm512_madd52lo_epu64(w[0], a.l0, b.l0);
    w[1] = _mm512_madd52hi_epu64(w[1], a.l0, b.l0);
    w[1] = _mm512_madd52lo_epu64(w[1], a.l0, b.l1);
    w[1] = _mm512_madd52lo_epu64(w[1], a.l1, b.l0);
    w[2] = _mm512_madd52hi_epu64(w[2], a.l0, b.l1);
    w[2] = _mm512_madd52hi_epu64(w[2], a.l1, b.l0);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l0, b.l2);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l1, b.l1);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l2, b.l0);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l0, b.l2);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l1, b.l1);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l2, b.l0);
    w[3] = _mm512_madd52lo_epu64(w[3], a.l1, b.l2);
    w[3] = _mm512_madd52lo_epu64(w[3], a.l2, b.l1);
    w[4] = _mm512_madd52hi_epu64(w[4], a.l1, b.l2);
    w[4] = _mm512_madd52hi_epu64(w[4], a.l2, b.l1);
    w[4] = _mm512_madd52lo_epu64(w[4], a.l2, b.l2);
  }
  // += a^2: the squares a_i^2 as in mac, each cross product a_i a_j (i < j) once into its own
  // sums, then added twice (a shift): 11 multiply-adds, not 17; at most five addends' worth an
  // accumulator, as mac's.
  NNP_AVX512_IFMA void mac_square(const V3& a) {
    const __m512i zero = _mm512_setzero_si512();
    w[0] = _mm512_madd52lo_epu64(w[0], a.l0, a.l0);
    w[1] = _mm512_madd52hi_epu64(w[1], a.l0, a.l0);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l1, a.l1);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l1, a.l1);
    w[4] = _mm512_madd52lo_epu64(w[4], a.l2, a.l2);
    const __m512i c1 = _mm512_madd52lo_epu64(zero, a.l0, a.l1);
    const __m512i c2 = _mm512_madd52lo_epu64(_mm512_madd52hi_epu64(zero, a.l0, a.l1), a.l0, a.l2);
    const __m512i c3 = _mm512_madd52lo_epu64(_mm512_madd52hi_epu64(zero, a.l0, a.l2), a.l1, a.l2);
    const __m512i c4 = _mm512_madd52hi_epu64(zero, a.l1, a.l2);
    w[1] = _mm512_add_epi64(w[1], _mm512_slli_epi64(c1, 1));
    w[2] = _mm512_add_epi64(w[2], _mm512_slli_epi64(c2, 1));
    w[3] = _mm512_add_epi64(w[3], _mm512_slli_epi64(c3, 1));
    w[4] = _mm512_add_epi64(w[4], _mm512_slli_epi64(c4, 1));
  }
  // += a (b0 + b1 2^52) for a two-limb b (b0, b1 < 2^52): 12 multiply-adds, not 17; at most four
  // addends an accumulator (w[4] one), so a caller may add one more to each (add_shifted_104).
  NNP_AVX512_IFMA void mac2(const V3& a, __m512i b0, __m512i b1) {
    w[0] = _mm512_madd52lo_epu64(w[0], a.l0, b0);
    w[1] = _mm512_madd52hi_epu64(w[1], a.l0, b0);
    w[1] = _mm512_madd52lo_epu64(w[1], a.l0, b1);
    w[1] = _mm512_madd52lo_epu64(w[1], a.l1, b0);
    w[2] = _mm512_madd52hi_epu64(w[2], a.l0, b1);
    w[2] = _mm512_madd52hi_epu64(w[2], a.l1, b0);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l1, b1);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l2, b0);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l1, b1);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l2, b0);
    w[3] = _mm512_madd52lo_epu64(w[3], a.l2, b1);
    w[4] = _mm512_madd52hi_epu64(w[4], a.l2, b1);
  }
  // += a b0 for a one-limb b0 < 2^52: 6 multiply-adds, at most two addends an accumulator.
  NNP_AVX512_IFMA void mac1(const V3& a, __m512i b0) {
    w[0] = _mm512_madd52lo_epu64(w[0], a.l0, b0);
    w[1] = _mm512_madd52hi_epu64(w[1], a.l0, b0);
    w[1] = _mm512_madd52lo_epu64(w[1], a.l1, b0);
    w[2] = _mm512_madd52hi_epu64(w[2], a.l1, b0);
    w[2] = _mm512_madd52lo_epu64(w[2], a.l2, b0);
    w[3] = _mm512_madd52hi_epu64(w[3], a.l2, b0);
  }
  // += a 2^104 in the lanes of `lanes`: a's limbs into w[2], w[3], w[4].
  NNP_AVX512_IFMA void add_shifted_104(const V3& a, __mmask8 lanes) {
    w[2] = _mm512_mask_add_epi64(w[2], lanes, w[2], a.l0);
    w[3] = _mm512_mask_add_epi64(w[3], lanes, w[3], a.l1);
    w[4] = _mm512_mask_add_epi64(w[4], lanes, w[4], a.l2);
  }
  // sum over the lanes and the weights, mod p: 2^156 = 2^29 and 2^208 = 2^81 (2^127 = 1).
  NNP_AVX512_IFMA Fp127 total() const {
    static const Fp127 weight[5] = {Fp127::one(), Fp127{u128{1} << 52}, Fp127{u128{1} << 104}, Fp127{u128{1} << 29},
                                    Fp127{u128{1} << 81}};
    Fp127 t = Fp127::zero();
    for (unsigned i = 0; i < 5; ++i) {
      alignas(64) std::uint64_t lanes[8];
      _mm512_store_si512(lanes, w[i]);
      u128 s = 0;
      for (std::uint64_t x : lanes) s += x;
      t += Fp127::from_u128(s) * weight[i];
    }
    return t;
  }
};

struct M127x8 {
  __m512i m52, m23, even, odd, first_half, second_half, two_p0, two_p1, two_p2;
  NNP_AVX512_IFMA M127x8()
      : m52(_mm512_set1_epi64(static_cast<long long>(kMask52))),
        m23(_mm512_set1_epi64(static_cast<long long>(kMask23))),
        even(_mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14)),
        odd(_mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15)),
        first_half(_mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11)),
        second_half(_mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15)),
        // 2p = 2^128 - 2 in limbs at least as large as a normalized value's (2^53 - 2, 2^53 - 2,
        // 2^24 - 2): a + 2p - b needs no borrow.
        two_p0(_mm512_set1_epi64((1ll << 53) - 2)),
        two_p1(_mm512_set1_epi64((1ll << 53) - 2)),
        two_p2(_mm512_set1_epi64((1ll << 24) - 2)) {}

  // Moves all but the low 52 bits of `from` into `to`.
  NNP_AVX512_IFMA void carry(__m512i& from, __m512i& to) const {
    to = _mm512_add_epi64(to, _mm512_srli_epi64(from, 52));
    from = _mm512_and_si512(from, m52);
  }
  // Limbs below 2^62 to normalized form: carry up, fold the bits of l2 from 2^127 on into l0, and
  // carry up once more (l1 then passes at most 1 into l2).
  NNP_AVX512_IFMA V3 normalize(V3 x) const {
    carry(x.l0, x.l1), carry(x.l1, x.l2);
    x.l0 = _mm512_add_epi64(x.l0, _mm512_srli_epi64(x.l2, 23));
    x.l2 = _mm512_and_si512(x.l2, m23);
    carry(x.l0, x.l1), carry(x.l1, x.l2);
    return x;
  }
  NNP_AVX512_IFMA V3 add(V3 a, V3 b) const {
    return normalize({_mm512_add_epi64(a.l0, b.l0), _mm512_add_epi64(a.l1, b.l1), _mm512_add_epi64(a.l2, b.l2)});
  }
  NNP_AVX512_IFMA V3 sub(V3 a, V3 b) const {
    return normalize({_mm512_sub_epi64(_mm512_add_epi64(a.l0, two_p0), b.l0),
                      _mm512_sub_epi64(_mm512_add_epi64(a.l1, two_p1), b.l1),
                      _mm512_sub_epi64(_mm512_add_epi64(a.l2, two_p2), b.l2)});
  }
  // A product's five accumulators folded to normalized limbs: after carrying up, w2 2^104 is
  // (w2 mod 2^23) 2^104 + (w2 >> 23), w3 2^156 = w3 2^29 and w4 2^208 = w4 2^81, each split at
  // the limb boundary.
  NNP_AVX512_IFMA V3 reduce(W5 t) const {
    for (unsigned i = 0; i < 4; ++i) carry(t.w[i], t.w[i + 1]);
    const __m512i l0 = _mm512_add_epi64(_mm512_add_epi64(t.w[0], _mm512_srli_epi64(t.w[2], 23)),
                                        _mm512_slli_epi64(_mm512_and_si512(t.w[3], m23), 29));
    const __m512i l1 = _mm512_add_epi64(_mm512_add_epi64(t.w[1], _mm512_srli_epi64(t.w[3], 23)),
                                        _mm512_slli_epi64(_mm512_and_si512(t.w[4], m23), 29));
    const __m512i l2 = _mm512_add_epi64(_mm512_and_si512(t.w[2], m23), _mm512_srli_epi64(t.w[4], 23));
    return normalize({l0, l1, l2});
  }
  NNP_AVX512_IFMA V3 mul(V3 a, V3 b) const {
    W5 t;
    t.mac(a, b);
    return reduce(t);
  }
  NNP_AVX512_IFMA V3 square(V3 a) const {
    W5 t;
    t.mac_square(a);
    return reduce(t);
  }
  NNP_AVX512_IFMA static V3 broadcast(Fp127 x) {
    return {_mm512_set1_epi64(static_cast<long long>(static_cast<std::uint64_t>(x.v) & kMask52)),
            _mm512_set1_epi64(static_cast<long long>(static_cast<std::uint64_t>(x.v >> 52) & kMask52)),
            _mm512_set1_epi64(static_cast<long long>(x.v >> 104))};
  }
  // The element below p: a normalized value is below p + 2^105, so it is v or v - p = v + 1 - 2^127,
  // the latter exactly when v + 1 reaches 2^127.
  NNP_AVX512_IFMA V3 canonical(V3 v) const {
    V3 t{_mm512_add_epi64(v.l0, _mm512_set1_epi64(1)), v.l1, v.l2};
    carry(t.l0, t.l1), carry(t.l1, t.l2);
    const __mmask8 wraps = _mm512_test_epi64_mask(t.l2, _mm512_set1_epi64(std::int64_t{1} << 23));
    t.l2 = _mm512_and_si512(t.l2, m23);
    return {_mm512_mask_blend_epi64(wraps, v.l0, t.l0), _mm512_mask_blend_epi64(wraps, v.l1, t.l1),
            _mm512_mask_blend_epi64(wraps, v.l2, t.l2)};
  }
  // Eight canonical elements back to memory (n of them).
  NNP_AVX512_IFMA void store(Fp127* dst, V3 v, std::size_t n) const {
    const __m512i lo = _mm512_or_si512(v.l0, _mm512_slli_epi64(v.l1, 52));
    const __m512i hi = _mm512_or_si512(_mm512_srli_epi64(v.l1, 12), _mm512_slli_epi64(v.l2, 40));
    const __mmask8 m0 = n >= 4 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (2 * n)) - 1);
    const __mmask8 m1 = n >= 8   ? __mmask8{0xFF}
                        : n <= 4 ? __mmask8{0}
                                 : static_cast<__mmask8>((1u << (2 * (n - 4))) - 1);
    _mm512_mask_storeu_epi64(dst, m0, _mm512_permutex2var_epi64(lo, first_half, hi));
    _mm512_mask_storeu_epi64(dst + 4, m1, _mm512_permutex2var_epi64(lo, second_half, hi));
  }
  // Eight elements from k on (`n` of them; the rest read as zero), as limbs.
  // Plain loads where all eight are there (masked ones were slower on Zen 4, m61_avx512.hpp).
  NNP_AVX512_IFMA V3 load(const Fp127* src, std::size_t n) const {
    __m512i v0, v1;
    if (n >= 8) {
      v0 = _mm512_loadu_si512(src), v1 = _mm512_loadu_si512(src + 4);
    } else {
      const __mmask8 m0 = n >= 4 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (2 * n)) - 1);
      const __mmask8 m1 = n <= 4 ? __mmask8{0} : static_cast<__mmask8>((1u << (2 * (n - 4))) - 1);
      v0 = _mm512_maskz_loadu_epi64(m0, src), v1 = _mm512_maskz_loadu_epi64(m1, src + 4);
    }
    const __m512i lo = _mm512_permutex2var_epi64(v0, even, v1), hi = _mm512_permutex2var_epi64(v0, odd, v1);
    return {_mm512_and_si512(lo, m52),
            _mm512_or_si512(_mm512_srli_epi64(lo, 52), _mm512_and_si512(_mm512_slli_epi64(hi, 12), m52)),
            _mm512_srli_epi64(hi, 40)};
  }
};

// The two cache lines of eight elements from p on, into L1 (kLocality 3) or L2 (2).
template <int kLocality>
inline void prefetch_two_lines(const Fp127* p) {
  __builtin_prefetch(p, 0, kLocality);
  __builtin_prefetch(p + 4, 0, kLocality);
}

// Columns per flush of the accumulators: 512 steps of eight, five addends each (< 4096).
constexpr std::size_t kFlushColumns = 8 * 512;

NNP_AVX512_WARNINGS_ON

}  // namespace nnproof::m127_avx512
#endif

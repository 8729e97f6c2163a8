// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/m127_kernels.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>

#include "core/simd/m127_avx512.hpp"
#include "core/simd/x86.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"

namespace nnproof {

namespace {

constexpr M127Kernels kPortable = portable_kernels<Fp127, Fp127, M127ColumnWeights>();

#ifdef NNP_M127_AVX512
using namespace m127_avx512;
NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)

// One of three passes over a group's columns, three of the nine sums each (fifteen accumulators;
// the group's rows stay in L1 between passes).
template <int kPass>
NNP_AVX512_IFMA void group_pass(const Fp127* z00, const Fp127* z01, const Fp127* z10, const Fp127* z11,
                                const M127ColumnWeights& w, Fp127* out) {
  const M127x8 f;
  const std::size_t cols = w.eq.size();
  for (unsigned i = 0; i < 3; ++i) out[i] = Fp127::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    W5 sums0, sums1, sums2;  // named, not an array (m61_kernels.cpp, group_pass)
    for (std::size_t k = k0; k < k1; k += 8) {
      const std::size_t n = std::min<std::size_t>(8, k1 - k);
      const V3 a0 = f.load(z00 + k, n), a1 = f.load(z01 + k, n);
      const V3 a2 = f.sub(f.add(a1, a1), a0);
      V3 x[3];
      if constexpr (kPass == 0) {
        // The rows the next passes and the next group read ("Prefetch" in sumcheck_kernels.hpp).
        prefetch_two_lines<3>(z10 + k), prefetch_two_lines<3>(z11 + k);
        prefetch_two_lines<2>(z00 + cols + k), prefetch_two_lines<2>(z01 + cols + k);
        x[0] = f.square(a0), x[1] = f.square(a1), x[2] = f.square(a2);
      } else {
        const V3 d0 = f.sub(f.load(z10 + k, n), a0), d1 = f.sub(f.load(z11 + k, n), a1);
        const V3 d2 = f.sub(f.add(d1, d1), d0);
        if constexpr (kPass == 1) {
          x[0] = f.mul(a0, d0), x[1] = f.mul(a1, d1), x[2] = f.mul(a2, d2);
        } else {
          x[0] = f.square(d0), x[1] = f.square(d1), x[2] = f.square(d2);
        }
      }
      const V3 e{_mm512_loadu_si512(w.limb0.data() + k), _mm512_loadu_si512(w.limb1.data() + k),
                 _mm512_loadu_si512(w.limb2.data() + k)};
      sums0.mac(e, x[0]), sums1.mac(e, x[1]), sums2.mac(e, x[2]);
    }
    out[0] += sums0.total(), out[1] += sums1.total(), out[2] += sums2.total();
  }
}

NNP_AVX512_IFMA std::array<Fp127, 9> group_sums_avx512(const Fp127* z00, const Fp127* z01, const Fp127* z10,
                                                       const Fp127* z11, const M127ColumnWeights& w) {
  std::array<Fp127, 9> out;
  group_pass<0>(z00, z01, z10, z11, w, out.data());
  group_pass<1>(z00, z01, z10, z11, w, out.data() + 3);
  group_pass<2>(z00, z01, z10, z11, w, out.data() + 6);
  return out;
}

// Eight signed int64 values (|x| < 2^63) as their elements' normalized limbs: x, or p - |x| =
// the complement of |x| in each limb (p = 2^127 - 1 is all ones), without a field product.
NNP_AVX512_IFMA V3 limbs_of_signed(__m512i x, const M127x8& f) {
  const __m512i sign = _mm512_srai_epi64(x, 63), m = _mm512_abs_epi64(x);
  const __m512i flip = _mm512_and_si512(sign, f.m52);
  return {_mm512_xor_si512(_mm512_and_si512(m, f.m52), flip), _mm512_xor_si512(_mm512_srli_epi64(m, 52), flip),
          _mm512_and_si512(sign, f.m23)};
}

// How the narrow kernels read a narrow table's entries (kernels/cpu/narrow_table.hpp), eight at a
// time as int64 (n of them; the rest zero), and add e times the product of two of their
// differences or extensions to a sum (mac). A kind may add P + 2^kOffsetBits for each product P, a
// non-negative integer of fewer limbs than P's element: the pass then takes 2^kOffsetBits sum_k e_k
// (M127ColumnWeights::total) off its sums (the tail's zero lanes add the offset too, times weights
// that are zero past the columns).
//
// Int32 entries below 2^kNarrowProductBits: each product is one vpmuldq, exact below 2^62, and
// P + 2^63 is below 2^64, two limbs (52 + 12 bits): 12 multiply-adds with e, not a three-limb
// element's 17, and no field product (half group_pass's IFMA work before that).
struct Int32Entries {
  using T = std::int32_t;
  static constexpr unsigned kOffsetBits = 63;
  static constexpr bool kOneLimbDifferences = true;  // any int32 entries: |z11 - z01 - z10 + z00| < 2^34
  NNP_AVX512_IFMA static __m512i load(const T* src, std::size_t n) {
    const __mmask16 m = static_cast<__mmask16>(n >= 8 ? 0xFFu : (1u << n) - 1);  // AVX-512 F: a 512-bit masked load
    return _mm512_cvtepi32_epi64(_mm512_castsi512_si256(_mm512_maskz_loadu_epi32(m, src)));
  }
  NNP_AVX512_IFMA static void mac(W5& sums, const V3& e, __m512i x, __m512i y, const M127x8& f) {
    const __m512i p = _mm512_xor_si512(_mm512_mul_epi32(x, y), _mm512_set1_epi64(INT64_MIN));  // P + 2^63
    sums.mac2(e, _mm512_and_si512(p, f.m52), _mm512_srli_epi64(p, 52));
  }
};

// Int32 entries below 2^kSmallNarrowEntryBits (a CNN's first Z: 20-21 bits): every product is below
// 2^51 in magnitude, so P + 2^51 is one limb below 2^52: 6 multiply-adds with e, not 12.
struct Int32SmallEntries : Int32Entries {
  static constexpr unsigned kOffsetBits = 51;
  NNP_AVX512_IFMA static void mac(W5& sums, const V3& e, __m512i x, __m512i y, const M127x8&) {
    sums.mac1(e, _mm512_add_epi64(_mm512_mul_epi32(x, y), _mm512_set1_epi64(std::int64_t{1} << 51)));
  }
};

// Int64 entries below 2^kSmallWideEntryBits: the differences and extensions are exact int64 below
// 2^52, so |P| < 2^104 is two IFMA products of their magnitudes (low and high 52 bits), exact, and
// P + 2^104 (below 2^105) is those two limbs and a top bit: 2 + 12 multiply-adds and three masked
// adds, where a field product and a three-limb multiply-add took 34.
struct Int64SmallEntries {
  using T = std::int64_t;
  static constexpr unsigned kOffsetBits = 104;
  static constexpr bool kOneLimbDifferences = true;  // |z11 - z01 - z10 + z00| <= 4 (2^49 - 1) < 2^51
  NNP_AVX512_IFMA static __m512i load(const T* src, std::size_t n) {
    return _mm512_maskz_loadu_epi64(static_cast<__mmask8>(n >= 8 ? 0xFFu : (1u << n) - 1), src);
  }
  NNP_AVX512_IFMA static void mac(W5& sums, const V3& e, __m512i x, __m512i y, const M127x8& f) {
    const __m512i zero = _mm512_setzero_si512(), ax = _mm512_abs_epi64(x), ay = _mm512_abs_epi64(y);
    const __m512i lo = _mm512_madd52lo_epu64(zero, ax, ay), hi = _mm512_madd52hi_epu64(zero, ax, ay);
    // P < 0: 2^104 - |P| = (0, 0, 1) - (lo, hi, 0) with its borrows (the top bit is 1 iff |P| = 0).
    const __mmask8 negative = _mm512_cmplt_epi64_mask(_mm512_xor_si512(x, y), zero);
    const __m512i t0 = _mm512_sub_epi64(zero, lo);
    const __m512i t1 = _mm512_sub_epi64(_mm512_sub_epi64(zero, hi), _mm512_srli_epi64(t0, 63));
    const __mmask8 top = static_cast<__mmask8>(~negative | _mm512_cmpeq_epi64_mask(t1, zero));
    sums.mac2(e, _mm512_mask_and_epi64(lo, negative, t0, f.m52), _mm512_mask_and_epi64(hi, negative, t1, f.m52));
    sums.add_shifted_104(e, top);
  }
};

// Int64 entries below 2^kWideEntryBits: the differences and extensions are exact int64 (no field
// subtraction, no widening), the products field products of their limbs; no offset.
struct Int64Entries {
  using T = std::int64_t;
  static constexpr unsigned kOffsetBits = 0;
  static constexpr bool kOneLimbDifferences = false;
  NNP_AVX512_IFMA static __m512i load(const T* src, std::size_t n) {
    return _mm512_maskz_loadu_epi64(static_cast<__mmask8>(n >= 8 ? 0xFFu : (1u << n) - 1), src);
  }
  NNP_AVX512_IFMA static void mac(W5& sums, const V3& e, __m512i x, __m512i y, const M127x8& f) {
    sums.mac(e, f.mul(limbs_of_signed(x, f), limbs_of_signed(y, f)));
  }
};

// One of three passes over a narrow group's columns (group_pass's split: fifteen accumulators):
// a, d and their extensions 2 a_1 - a_0, 2 d_1 - d_0 as exact int64 (the entries' bound), their
// products added by E's mac, E's offset taken off the sums.
template <int kPass, class E>
NNP_AVX512_IFMA void narrow_group_pass(const typename E::T* z00, const typename E::T* z01, const typename E::T* z10,
                                       const typename E::T* z11, const M127ColumnWeights& w, Fp127* out) {
  const M127x8 f;
  const std::size_t cols = w.eq.size();
  for (unsigned i = 0; i < 3; ++i) out[i] = Fp127::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    W5 sums0, sums1, sums2;
    for (std::size_t k = k0; k < k1; k += 8) {
      const std::size_t n = std::min<std::size_t>(8, k1 - k);
      const __m512i a0 = E::load(z00 + k, n), a1 = E::load(z01 + k, n);
      const __m512i a2 = _mm512_sub_epi64(_mm512_add_epi64(a1, a1), a0);
      const V3 e{_mm512_loadu_si512(w.limb0.data() + k), _mm512_loadu_si512(w.limb1.data() + k),
                 _mm512_loadu_si512(w.limb2.data() + k)};
      if constexpr (kPass == 0) {
        E::mac(sums0, e, a0, a0, f), E::mac(sums1, e, a1, a1, f), E::mac(sums2, e, a2, a2, f);
      } else {
        const __m512i d0 = _mm512_sub_epi64(E::load(z10 + k, n), a0);
        const __m512i d1 = _mm512_sub_epi64(E::load(z11 + k, n), a1);
        const __m512i d2 = _mm512_sub_epi64(_mm512_add_epi64(d1, d1), d0);
        if constexpr (kPass == 1) {
          E::mac(sums0, e, a0, d0, f), E::mac(sums1, e, a1, d1, f), E::mac(sums2, e, a2, d2, f);
        } else {
          E::mac(sums0, e, d0, d0, f), E::mac(sums1, e, d1, d1, f), E::mac(sums2, e, d2, d2, f);
        }
      }
    }
    out[0] += sums0.total(), out[1] += sums1.total(), out[2] += sums2.total();
  }
  if constexpr (E::kOffsetBits > 0) {
    const Fp127 offset = Fp127{u128{1} << E::kOffsetBits} * w.total;
    for (unsigned i = 0; i < 3; ++i) out[i] -= offset;
  }
}

template <class E>
NNP_AVX512_IFMA std::array<Fp127, 9> narrow_group_sums_avx512(const typename E::T* z00, const typename E::T* z01,
                                                              const typename E::T* z10, const typename E::T* z11,
                                                              const M127ColumnWeights& w) {
  std::array<Fp127, 9> out;
  narrow_group_pass<0, E>(z00, z01, z10, z11, w, out.data());
  if (!z10) {  // zero rows: d_t = -a_t, so a_t d_t = -a_t^2 and d_t^2 = a_t^2
    for (unsigned t = 0; t < 3; ++t) out[3 + t] = Fp127::zero() - out[t], out[6 + t] = out[t];
    return out;
  }
  narrow_group_pass<1, E>(z00, z01, z10, z11, w, out.data() + 3);
  narrow_group_pass<2, E>(z00, z01, z10, z11, w, out.data() + 6);
  return out;
}

// fold_two_avx512 of a narrow table's rows: a_0 and the three differences are exact 64-bit
// integers (no widening, no field subtraction); the same canonical elements. Where E's differences
// are below 2^51 (kOneLimbDifferences), each is taken as u + 2^51, one limb below 2^52 (6
// multiply-adds with its challenge, not 17), and 2^51 (rho1 + rho2 + rho1 rho2) is taken off once
// per column; else their limbs come from limbs_of_signed. a_0's always do.
template <class E>
NNP_AVX512_IFMA void narrow_fold_two_avx512(const typename E::T* z00, const typename E::T* z01,
                                            const typename E::T* z10, const typename E::T* z11, Fp127 rho1, Fp127 rho2,
                                            Fp127* out, std::size_t cols) {
  const M127x8 f;
  const V3 r1 = M127x8::broadcast(rho1), r2 = M127x8::broadcast(rho2), r12 = M127x8::broadcast(rho1 * rho2);
  const __m512i offset = _mm512_set1_epi64(std::int64_t{1} << 51);
  V3 minus_offsets{};
  if constexpr (E::kOneLimbDifferences)
    minus_offsets = M127x8::broadcast(Fp127::zero() - Fp127{u128{1} << 51} * (rho1 + rho2 + rho1 * rho2));
  for (std::size_t k = 0; k < cols; k += 8) {
    const std::size_t n = std::min<std::size_t>(8, cols - k);
    const __m512i a0 = E::load(z00 + k, n), a1 = E::load(z01 + k, n);
    const __m512i zero = _mm512_setzero_si512();  // null rows are zero rows
    const __m512i d0 = _mm512_sub_epi64(z10 ? E::load(z10 + k, n) : zero, a0);
    const __m512i d01 = _mm512_sub_epi64(_mm512_sub_epi64(z11 ? E::load(z11 + k, n) : zero, a1), d0);
    const __m512i da = _mm512_sub_epi64(a1, a0);
    W5 t;
    V3 base = limbs_of_signed(a0, f);
    if constexpr (E::kOneLimbDifferences) {
      t.mac1(r1, _mm512_add_epi64(d0, offset));
      t.mac1(r2, _mm512_add_epi64(da, offset));
      t.mac1(r12, _mm512_add_epi64(d01, offset));
      base = f.add(base, minus_offsets);
    } else {
      t.mac(r1, limbs_of_signed(d0, f));
      t.mac(r2, limbs_of_signed(da, f));
      t.mac(r12, limbs_of_signed(d01, f));
    }
    f.store(out + k, f.canonical(f.add(base, f.reduce(t))), n);
  }
}

// q(0), q(2) of a pair of rows: sum eq(r, k) lo^2 and sum eq(r, k) (2 hi - lo)^2.
NNP_AVX512_IFMA std::array<Fp127, 2> pair_q_avx512(const Fp127* lo, const Fp127* hi, const M127ColumnWeights& w) {
  const M127x8 f;
  const std::size_t cols = w.eq.size();
  std::array<Fp127, 2> q{Fp127::zero(), Fp127::zero()};
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    W5 q0, q2;
    for (std::size_t k = k0; k < k1; k += 8) {
      const std::size_t n = std::min<std::size_t>(8, k1 - k);
      const V3 l = f.load(lo + k, n), h = f.load(hi + k, n);
      const V3 z2 = f.sub(f.add(h, h), l);
      const V3 e{_mm512_loadu_si512(w.limb0.data() + k), _mm512_loadu_si512(w.limb1.data() + k),
                 _mm512_loadu_si512(w.limb2.data() + k)};
      q0.mac(e, f.square(l));
      q2.mac(e, f.square(z2));
    }
    q[0] += q0.total();
    q[1] += q2.total();
  }
  return q;
}

// out = a + r (b - a), one product per column.
NNP_AVX512_IFMA void fold_row_avx512(const Fp127* a, const Fp127* b, Fp127 r, Fp127* out, std::size_t cols) {
  const M127x8 f;
  const V3 rv = M127x8::broadcast(r);
  for (std::size_t k = 0; k < cols; k += 8) {
    const std::size_t n = std::min<std::size_t>(8, cols - k);
    const V3 x = f.load(a + k, n);
    f.store(out + k, f.canonical(f.add(x, f.mul(rv, f.sub(f.load(b + k, n), x)))), n);
  }
}

// The group's four rows bound at rho1 (top) and rho2: three products summed per column.
NNP_AVX512_IFMA void fold_two_avx512(const Fp127* z00, const Fp127* z01, const Fp127* z10, const Fp127* z11, Fp127 rho1,
                                     Fp127 rho2, Fp127* out, std::size_t cols) {
  const M127x8 f;
  const V3 r1 = M127x8::broadcast(rho1), r2 = M127x8::broadcast(rho2), r12 = M127x8::broadcast(rho1 * rho2);
  for (std::size_t k = 0; k < cols; k += 8) {
    const std::size_t n = std::min<std::size_t>(8, cols - k);
    for (const Fp127* row : {z00, z01, z10, z11}) prefetch_two_lines<3>(row + cols + k);  // the next group's
    const V3 a0 = f.load(z00 + k, n), a1 = f.load(z01 + k, n);
    const V3 d0 = f.sub(f.load(z10 + k, n), a0);
    W5 t;
    t.mac(r1, d0);
    t.mac(r2, f.sub(a1, a0));
    t.mac(r12, f.sub(f.sub(f.load(z11 + k, n), a1), d0));
    f.store(out + k, f.canonical(f.add(a0, f.reduce(t))), n);
  }
}

// A product sum-check's round sums over n pairs: sum a_lo v_lo and sum (2 a_hi - a_lo)(2 v_hi - v_lo).
NNP_AVX512_IFMA std::array<Fp127, 2> pair_products_avx512(const Fp127* a_lo, const Fp127* a_hi, const Fp127* v_lo,
                                                          const Fp127* v_hi, std::size_t n) {
  const M127x8 f;
  std::array<Fp127, 2> h{Fp127::zero(), Fp127::zero()};
  for (std::size_t k0 = 0; k0 < n; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(n, k0 + kFlushColumns);
    W5 h0, h2;
    for (std::size_t k = k0; k < k1; k += 8) {
      const std::size_t m = std::min<std::size_t>(8, k1 - k);
      const V3 al = f.load(a_lo + k, m), ah = f.load(a_hi + k, m), vl = f.load(v_lo + k, m), vh = f.load(v_hi + k, m);
      h0.mac(al, vl);
      h2.mac(f.sub(f.add(ah, ah), al), f.sub(f.add(vh, vh), vl));
    }
    h[0] += h0.total();
    h[1] += h2.total();
  }
  return h;
}

NNP_AVX512_IFMA void row_dots_avx512(const Fp127* y, std::size_t rows, const M127ColumnWeights& w, Fp127* out) {
  for (std::size_t j = 0; j < rows; ++j) out[j] = m127_row_dot_avx512(y + j * w.eq.size(), w);
}
NNP_AVX512_WARNINGS_ON
#endif

}  // namespace

std::vector<M127Kernels> m127_kernels_available() {
  std::vector<M127Kernels> k;
#ifdef NNP_M127_AVX512
  if (avx512_ifma_kernels_allowed())
    k.push_back({"avx512-ifma", group_sums_avx512, pair_q_avx512, fold_row_avx512, fold_two_avx512, row_dots_avx512});
#endif
  k.push_back(kPortable);
  return k;
}

const M127Kernels& m127_kernels() {
  static const M127Kernels best = m127_kernels_available().front();
  return best;
}

M127NarrowGroupSums m127_narrow_group_sums(unsigned bits) {
#ifdef NNP_M127_AVX512
  if (avx512_ifma_kernels_allowed() && bits <= kSmallNarrowEntryBits)
    return narrow_group_sums_avx512<Int32SmallEntries>;
  if (avx512_ifma_kernels_allowed()) return narrow_group_sums_avx512<Int32Entries>;
#endif
  return nullptr;
}

M127NarrowFoldTwo m127_narrow_fold_two() {
#ifdef NNP_M127_AVX512
  if (avx512_ifma_kernels_allowed()) return narrow_fold_two_avx512<Int32Entries>;
#endif
  return nullptr;
}

M127WideGroupSums m127_wide_group_sums(unsigned bits) {
#ifdef NNP_M127_AVX512
  if (avx512_ifma_kernels_allowed() && bits <= kSmallWideEntryBits) return narrow_group_sums_avx512<Int64SmallEntries>;
  if (avx512_ifma_kernels_allowed()) return narrow_group_sums_avx512<Int64Entries>;
#endif
  return nullptr;
}

M127WideFoldTwo m127_wide_fold_two(unsigned bits) {
#ifdef NNP_M127_AVX512
  if (avx512_ifma_kernels_allowed() && bits <= kSmallWideEntryBits) return narrow_fold_two_avx512<Int64SmallEntries>;
  if (avx512_ifma_kernels_allowed()) return narrow_fold_two_avx512<Int64Entries>;
#endif
  return nullptr;
}

M127PairProducts m127_pair_products() {
#ifdef NNP_M127_AVX512
  if (avx512_ifma_kernels_allowed()) return pair_products_avx512;
#endif
  return nullptr;
}

}  // namespace nnproof

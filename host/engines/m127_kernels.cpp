#include "host/engines/m127_kernels.hpp"

#include <algorithm>
#include <initializer_list>

#include "host/engines/cpu_square_sumcheck.hpp"
#include "host/engines/limb_gemm.hpp"  // avx512_ifma_kernels_allowed

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NNP_X86_KERNELS 1
#endif

namespace nnproof {

namespace {
constexpr std::uint64_t kMask52 = (std::uint64_t{1} << 52) - 1, kMask23 = (std::uint64_t{1} << 23) - 1;
}

M127ColumnWeights::M127ColumnWeights(std::span<const Fp127> eq_r) : eq(eq_r) {
  const std::size_t n = (eq_r.size() + 7) / 8 * 8;
  limb0.assign(n, 0), limb1.assign(n, 0), limb2.assign(n, 0);
  for (std::size_t k = 0; k < eq_r.size(); ++k) {
    const u128 v = eq_r[k].v;
    limb0[k] = static_cast<std::uint64_t>(v) & kMask52;
    limb1[k] = static_cast<std::uint64_t>(v >> 52) & kMask52;
    limb2[k] = static_cast<std::uint64_t>(v >> 104);
  }
}

namespace {

constexpr M127Kernels kPortable = portable_kernels<Fp127, Fp127, M127ColumnWeights>();

#ifdef NNP_X86_KERNELS
#define NNP_AVX512_IFMA __attribute__((target("avx512f,avx512ifma")))
// GCC 12's AVX-512 headers pass _mm512_undefined_epi32() as the unused merge operand of shifts
// and permutes, which -Wmaybe-uninitialized reports once inlined here: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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
  NNP_AVX512_IFMA V3 load(const Fp127* src, std::size_t n) const {
    const __mmask8 m0 = n >= 4 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (2 * n)) - 1);
    const __mmask8 m1 = n >= 8   ? __mmask8{0xFF}
                        : n <= 4 ? __mmask8{0}
                                 : static_cast<__mmask8>((1u << (2 * (n - 4))) - 1);
    const __m512i v0 = _mm512_maskz_loadu_epi64(m0, src), v1 = _mm512_maskz_loadu_epi64(m1, src + 4);
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
    W5 sums[3];
    for (std::size_t k = k0; k < k1; k += 8) {
      const std::size_t n = std::min<std::size_t>(8, k1 - k);
      const V3 a0 = f.load(z00 + k, n), a1 = f.load(z01 + k, n);
      const V3 a2 = f.sub(f.add(a1, a1), a0);
      V3 x[3];
      if constexpr (kPass == 0) {
        // The rows the next passes and the next group read ("Prefetch" in sumcheck_kernels.hpp).
        prefetch_two_lines<3>(z10 + k), prefetch_two_lines<3>(z11 + k);
        prefetch_two_lines<2>(z00 + cols + k), prefetch_two_lines<2>(z01 + cols + k);
        x[0] = f.mul(a0, a0), x[1] = f.mul(a1, a1), x[2] = f.mul(a2, a2);
      } else {
        const V3 d0 = f.sub(f.load(z10 + k, n), a0), d1 = f.sub(f.load(z11 + k, n), a1);
        const V3 d2 = f.sub(f.add(d1, d1), d0);
        if constexpr (kPass == 1) {
          x[0] = f.mul(a0, d0), x[1] = f.mul(a1, d1), x[2] = f.mul(a2, d2);
        } else {
          x[0] = f.mul(d0, d0), x[1] = f.mul(d1, d1), x[2] = f.mul(d2, d2);
        }
      }
      const V3 e{_mm512_loadu_si512(w.limb0.data() + k), _mm512_loadu_si512(w.limb1.data() + k),
                 _mm512_loadu_si512(w.limb2.data() + k)};
      for (unsigned i = 0; i < 3; ++i) sums[i].mac(e, x[i]);
    }
    for (unsigned i = 0; i < 3; ++i) out[i] += sums[i].total();
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
      q0.mac(e, f.mul(l, l));
      q2.mac(e, f.mul(z2, z2));
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
// sum_k eq(r, k) y[k] for one row: one product per column into five accumulators (tails read as
// zero).
NNP_AVX512_IFMA Fp127 row_dot(const Fp127* y, const M127ColumnWeights& w) {
  const M127x8 f;
  const std::size_t cols = w.eq.size();
  Fp127 total = Fp127::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    W5 sum;
    for (std::size_t k = k0; k < k1; k += 8) {
      const V3 e{_mm512_loadu_si512(w.limb0.data() + k), _mm512_loadu_si512(w.limb1.data() + k),
                 _mm512_loadu_si512(w.limb2.data() + k)};
      prefetch_two_lines<3>(y + cols + k);  // the next row
      sum.mac(e, f.load(y + k, std::min<std::size_t>(8, k1 - k)));
    }
    total += sum.total();
  }
  return total;
}
NNP_AVX512_IFMA void row_dots_avx512(const Fp127* y, std::size_t rows, const M127ColumnWeights& w, Fp127* out) {
  for (std::size_t j = 0; j < rows; ++j) out[j] = row_dot(y + j * w.eq.size(), w);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

}  // namespace

std::vector<M127Kernels> m127_kernels_available() {
  std::vector<M127Kernels> k;
#ifdef NNP_X86_KERNELS
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

}  // namespace nnproof

#include "host/engines/m61_kernels.hpp"

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
constexpr std::uint64_t kLow52 = (std::uint64_t{1} << 52) - 1;
}

M61ColumnWeights::M61ColumnWeights(std::span<const Fp61x2> eq_r) : eq(eq_r) {
  const std::size_t n = (eq_r.size() + 7) / 8 * 8;
  re_lo.assign(n, 0), re_hi.assign(n, 0), im_lo.assign(n, 0), im_hi.assign(n, 0);
  for (std::size_t k = 0; k < eq_r.size(); ++k) {
    re_lo[k] = eq_r[k].re.v & kLow52, re_hi[k] = eq_r[k].re.v >> 52;
    im_lo[k] = eq_r[k].im.v & kLow52, im_hi[k] = eq_r[k].im.v >> 52;
  }
}

namespace {

constexpr M61Kernels kPortable = portable_kernels<Fp61, Fp61x2, M61ColumnWeights>();

#ifdef NNP_X86_KERNELS
#define NNP_AVX512_IFMA __attribute__((target("avx512f,avx512ifma")))
// GCC 12's AVX-512 headers pass _mm512_undefined_epi32() as the unused merge operand of shifts,
// min and multiplies, which -Wmaybe-uninitialized reports once inlined here: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Eight elements of K, split into coordinates.
struct KVec {
  __m512i re, im;
};

// Eight canonical m61 values per register, and eight elements of K as two such registers.
struct M61x8 {
  __m512i p, low52, even, odd, first_half, second_half;
  NNP_AVX512_IFMA M61x8()
      : p(_mm512_set1_epi64(static_cast<long long>(Fp61::P))),
        low52(_mm512_set1_epi64(static_cast<long long>(kLow52))),
        even(_mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14)),
        odd(_mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15)),
        first_half(_mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11)),
        second_half(_mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15)) {}

  // x - p where x >= p, else x (x < 2p): the wrapped difference of a smaller x is the larger.
  NNP_AVX512_IFMA __m512i reduce_once(__m512i x) const { return _mm512_min_epu64(x, _mm512_sub_epi64(x, p)); }
  NNP_AVX512_IFMA __m512i add(__m512i a, __m512i b) const { return reduce_once(_mm512_add_epi64(a, b)); }
  NNP_AVX512_IFMA __m512i sub(__m512i a, __m512i b) const {
    return reduce_once(_mm512_sub_epi64(_mm512_add_epi64(a, p), b));
  }
  // Any x < 2^64 to [0, 2^61 + 8), then canonical.
  NNP_AVX512_IFMA __m512i fold61(__m512i x) const {
    return reduce_once(_mm512_add_epi64(_mm512_and_si512(x, p), _mm512_srli_epi64(x, 61)));
  }

  // The product hh 2^64 + mid 2^32 + ll (hh < 2^58, mid < 2^62) mod p: 2^64 = 8 and 2^61 = 1, so
  // mid 2^32 = (mid >> 29) + (mid mod 2^29) 2^32 and ll = (ll >> 61) + (ll mod 2^61); the pieces
  // sum below 2^63.
  NNP_AVX512_IFMA __m512i reduce_product(__m512i ll, __m512i mid, __m512i hh) const {
    __m512i t = _mm512_add_epi64(_mm512_slli_epi64(hh, 3), _mm512_srli_epi64(mid, 29));
    t = _mm512_add_epi64(t, _mm512_and_si512(_mm512_slli_epi64(mid, 32), p));
    t = _mm512_add_epi64(t, _mm512_srli_epi64(ll, 61));
    return fold61(_mm512_add_epi64(t, _mm512_and_si512(ll, p)));
  }
  // a b mod p from 32-bit halves: a = ah 2^32 + al (ah < 2^29), likewise b.
  NNP_AVX512_IFMA __m512i mul(__m512i a, __m512i b) const {
    const __m512i ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
    const __m512i mid = _mm512_add_epi64(_mm512_mul_epu32(a, bh), _mm512_mul_epu32(ah, b));
    return reduce_product(_mm512_mul_epu32(a, b), mid, _mm512_mul_epu32(ah, bh));
  }
  NNP_AVX512_IFMA __m512i square(__m512i a) const {
    const __m512i ah = _mm512_srli_epi64(a, 32), cross = _mm512_mul_epu32(a, ah);
    return reduce_product(_mm512_mul_epu32(a, a), _mm512_add_epi64(cross, cross), _mm512_mul_epu32(ah, ah));
  }
  // (a + bi)^2 = (a + b)(a - b) + 2ab i
  NNP_AVX512_IFMA KVec square(KVec x) const {
    const __m512i ab = mul(x.re, x.im);
    return {mul(add(x.re, x.im), sub(x.re, x.im)), add(ab, ab)};
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

// A value cut at bit 52: x = hi 2^52 + lo (hi < 2^9 for canonical m61 values).
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
// three to one accumulator.
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
    hi = _mm512_madd52lo_epu64(hi, e.hi, x.hi);  // e.hi x.hi < 2^18: no high part
  }
  // Each lane's lo + mid 2^52 + hi 2^104 mod p, canonical: with 2^61 = 1, mid 2^52 is
  // (mid >> 9) + (mid mod 2^9) 2^52 and hi 2^104 = hi 2^43 is (hi >> 18) + (hi mod 2^18) 2^43.
  NNP_AVX512_IFMA __m512i lanes(const M61x8& f) const {
    __m512i t = _mm512_add_epi64(_mm512_and_si512(lo, f.p), _mm512_srli_epi64(lo, 61));
    t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(mid, _mm512_set1_epi64(511)), 52));
    t = _mm512_add_epi64(t, _mm512_srli_epi64(mid, 9));
    t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(hi, _mm512_set1_epi64((1 << 18) - 1)), 43));
    return f.fold61(_mm512_add_epi64(t, _mm512_srli_epi64(hi, 18)));  // six pieces below 2^61
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

// A sum of products of two elements of K: (a + bi)(c + di) = (ac - bd) + (ad + bc) i, the three
// sums kept apart (bd is subtracted once, at the end).
struct LazyK {
  Lazy52 ac, bd, cross;
  NNP_AVX512_IFMA LazyK() : ac(), bd(), cross() {}
  NNP_AVX512_IFMA void add(Limbs52 a, Limbs52 b, Limbs52 c, Limbs52 d) {
    ac.add(a, c), bd.add(b, d), cross.add(a, d), cross.add(b, c);
  }
  NNP_AVX512_IFMA Fp61x2 total() const { return {ac.total() - bd.total(), cross.total()}; }
};

// Columns per flush of the accumulators: 512 steps of eight, at most six addends each (< 4096).
constexpr std::size_t kFlushColumns = 8 * 512;

// One of three passes over a group's columns, three of the nine sums each (the accumulators fit
// the registers; the group's rows stay in L1 between passes).
template <int kPass>
NNP_AVX512_IFMA void group_pass(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11,
                                const M61ColumnWeights& w, Fp61x2* out) {
  const M61x8 f;
  const std::size_t cols = w.eq.size();
  for (unsigned i = 0; i < 3; ++i) out[i] = Fp61x2::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    Lazy52 re[3], im[3];
    for (std::size_t k = k0; k < k1; k += 8) {
      const __mmask8 m = k1 - k >= 8 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (k1 - k)) - 1);
      const __m512i a0 = _mm512_maskz_loadu_epi64(m, z00 + k), a1 = _mm512_maskz_loadu_epi64(m, z01 + k);
      const __m512i a2 = f.sub(f.add(a1, a1), a0);
      __m512i x[3];
      if constexpr (kPass == 0) {
        // The rows the next passes and the next group read ("Prefetch" in sumcheck_kernels.hpp).
        __builtin_prefetch(z10 + k, 0, 3), __builtin_prefetch(z11 + k, 0, 3);
        __builtin_prefetch(z00 + cols + k, 0, 2), __builtin_prefetch(z01 + cols + k, 0, 2);
        x[0] = f.square(a0), x[1] = f.square(a1), x[2] = f.square(a2);
      } else {
        const __m512i d0 = f.sub(_mm512_maskz_loadu_epi64(m, z10 + k), a0),
                      d1 = f.sub(_mm512_maskz_loadu_epi64(m, z11 + k), a1);
        const __m512i d2 = f.sub(f.add(d1, d1), d0);
        if constexpr (kPass == 1) {
          x[0] = f.mul(a0, d0), x[1] = f.mul(a1, d1), x[2] = f.mul(a2, d2);
        } else {
          x[0] = f.square(d0), x[1] = f.square(d1), x[2] = f.square(d2);
        }
      }
      const Limbs52 er = Limbs52::load(w.re_lo.data() + k, w.re_hi.data() + k);
      const Limbs52 ei = Limbs52::load(w.im_lo.data() + k, w.im_hi.data() + k);
      for (unsigned i = 0; i < 3; ++i) {
        const Limbs52 xi = Limbs52::of(x[i], f);
        re[i].add(er, xi);
        im[i].add(ei, xi);
      }
    }
    for (unsigned i = 0; i < 3; ++i) out[i] += Fp61x2{re[i].total(), im[i].total()};
  }
}

NNP_AVX512_IFMA std::array<Fp61x2, kM61GroupSums> group_sums_avx512(const Fp61* z00, const Fp61* z01, const Fp61* z10,
                                                                    const Fp61* z11, const M61ColumnWeights& w) {
  std::array<Fp61x2, kM61GroupSums> out;
  group_pass<0>(z00, z01, z10, z11, w, out.data());
  group_pass<1>(z00, z01, z10, z11, w, out.data() + 3);
  group_pass<2>(z00, z01, z10, z11, w, out.data() + 6);
  return out;
}

// The K-row kernels take whole registers of columns: other widths (a batch below 8) go portable.
NNP_AVX512_IFMA std::array<Fp61x2, 2> pair_q_avx512(const Fp61x2* lo, const Fp61x2* hi, const M61ColumnWeights& w) {
  const std::size_t cols = w.eq.size();
  if (cols % 8 != 0) return kPortable.pair_q(lo, hi, w);
  const M61x8 f;
  std::array<Fp61x2, 2> q{Fp61x2::zero(), Fp61x2::zero()};
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    LazyK q0, q2;
    for (std::size_t k = k0; k < k1; k += 8) {
      const KVec l = f.load(lo + k), h = f.load(hi + k);
      const KVec z2{f.sub(f.add(h.re, h.re), l.re), f.sub(f.add(h.im, h.im), l.im)};
      const KVec s0 = f.square(l), s2 = f.square(z2);
      const Limbs52 er = Limbs52::load(w.re_lo.data() + k, w.re_hi.data() + k);
      const Limbs52 ei = Limbs52::load(w.im_lo.data() + k, w.im_hi.data() + k);
      q0.add(er, ei, Limbs52::of(s0.re, f), Limbs52::of(s0.im, f));
      q2.add(er, ei, Limbs52::of(s2.re, f), Limbs52::of(s2.im, f));
    }
    q[0] += q0.total();
    q[1] += q2.total();
  }
  return q;
}

// out = a + r (b - a): re = a.re + r.re x.re + (p - r.im) x.im, im = a.im + r.re x.im + r.im x.re
// with x = b - a, each coordinate two products summed in 52-bit limbs and reduced once.
NNP_AVX512_IFMA void fold_row_avx512(const Fp61x2* a, const Fp61x2* b, Fp61x2 r, Fp61x2* out, std::size_t cols) {
  if (cols % 8 != 0) return kPortable.fold_row(a, b, r, out, cols);
  const M61x8 f;
  const Limbs52 rr = Limbs52::broadcast(r.re), ri = Limbs52::broadcast(r.im), neg_ri = Limbs52::broadcast(-r.im);
  for (std::size_t k = 0; k < cols; k += 8) {
    const KVec x0 = f.load(a + k), x1 = f.load(b + k);
    const Limbs52 dre = Limbs52::of(f.sub(x1.re, x0.re), f), dim = Limbs52::of(f.sub(x1.im, x0.im), f);
    Lazy52 re, im;
    re.add(rr, dre), re.add(neg_ri, dim);
    im.add(rr, dim), im.add(ri, dre);
    f.store(out + k, {f.add(x0.re, re.lanes(f)), f.add(x0.im, im.lanes(f))});
  }
}

// The group's four base rows bound at rho1 (top) and rho2: three K x F products per column.
NNP_AVX512_IFMA void fold_two_avx512(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11, Fp61x2 rho1,
                                     Fp61x2 rho2, Fp61x2* out, std::size_t cols) {
  if (cols % 8 != 0) return kPortable.fold_two(z00, z01, z10, z11, rho1, rho2, out, cols);
  const M61x8 f;
  const Fp61x2 rho12 = rho1 * rho2;
  const Limbs52 r1re = Limbs52::broadcast(rho1.re), r1im = Limbs52::broadcast(rho1.im);
  const Limbs52 r2re = Limbs52::broadcast(rho2.re), r2im = Limbs52::broadcast(rho2.im);
  const Limbs52 r12re = Limbs52::broadcast(rho12.re), r12im = Limbs52::broadcast(rho12.im);
  for (std::size_t k = 0; k < cols; k += 8) {
    for (const Fp61* row : {z00, z01, z10, z11}) __builtin_prefetch(row + cols + k, 0, 3);  // the next group's
    const __m512i a0 = _mm512_loadu_si512(z00 + k), a1 = _mm512_loadu_si512(z01 + k);
    const __m512i d0 = f.sub(_mm512_loadu_si512(z10 + k), a0);
    const __m512i twist = f.sub(f.sub(_mm512_loadu_si512(z11 + k), a1), d0);
    const Limbs52 x1 = Limbs52::of(d0, f), x2 = Limbs52::of(f.sub(a1, a0), f), x3 = Limbs52::of(twist, f);
    Lazy52 re, im;
    re.add(r1re, x1), re.add(r2re, x2), re.add(r12re, x3);
    im.add(r1im, x1), im.add(r2im, x2), im.add(r12im, x3);
    f.store(out + k, {f.add(a0, re.lanes(f)), im.lanes(f)});
  }
}
// sum_k eq(r, k) y[k] for one row: two products per column, in 52-bit limbs (tails masked to zero).
NNP_AVX512_IFMA Fp61x2 row_dot(const Fp61* y, const M61ColumnWeights& w) {
  const M61x8 f;
  const std::size_t cols = w.eq.size();
  Fp61x2 total = Fp61x2::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    Lazy52 re, im;
    for (std::size_t k = k0; k < k1; k += 8) {
      const __mmask8 m = k1 - k >= 8 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (k1 - k)) - 1);
      __builtin_prefetch(y + cols + k, 0, 3);  // the next row
      const Limbs52 x = Limbs52::of(_mm512_maskz_loadu_epi64(m, y + k), f);
      re.add(Limbs52::load(w.re_lo.data() + k, w.re_hi.data() + k), x);
      im.add(Limbs52::load(w.im_lo.data() + k, w.im_hi.data() + k), x);
    }
    total += Fp61x2{re.total(), im.total()};
  }
  return total;
}
NNP_AVX512_IFMA void row_dots_avx512(const Fp61* y, std::size_t rows, const M61ColumnWeights& w, Fp61x2* out) {
  for (std::size_t j = 0; j < rows; ++j) out[j] = row_dot(y + j * w.eq.size(), w);
}

NNP_AVX512_IFMA void square_entries_avx512(const Fp61* z, Fp61* y, std::size_t n) {
  const M61x8 f;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_si512(y + i, f.square(_mm512_loadu_si512(z + i)));
  if (i == n) return;
  const auto m = static_cast<__mmask8>((1u << (n - i)) - 1);
  _mm512_mask_storeu_epi64(y + i, m, f.square(_mm512_maskz_loadu_epi64(m, z + i)));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

}  // namespace

std::vector<M61Kernels> m61_kernels_available() {
  std::vector<M61Kernels> k;
#ifdef NNP_X86_KERNELS
  if (avx512_ifma_kernels_allowed())
    k.push_back({"avx512-ifma", group_sums_avx512, pair_q_avx512, fold_row_avx512, fold_two_avx512, row_dots_avx512});
#endif
  k.push_back(kPortable);
  return k;
}

void m61_square_entries(const Fp61* z, Fp61* y, std::size_t n) {
#ifdef NNP_X86_KERNELS
  static const bool simd = avx512_ifma_kernels_allowed();
  if (simd) return square_entries_avx512(z, y, n);
#endif
  for (std::size_t i = 0; i < n; ++i) y[i] = z[i] * z[i];
}

const M61Kernels& m61_kernels() {
  static const M61Kernels best = m61_kernels_available().front();
  return best;
}

}  // namespace nnproof

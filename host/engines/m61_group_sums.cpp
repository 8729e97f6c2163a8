#include "host/engines/m61_group_sums.hpp"

#include <algorithm>

#include "host/engines/cpu_square_sumcheck.hpp"

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

std::array<Fp61x2, kM61GroupSums> group_sums_portable_m61(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11,
                                                          const M61ColumnWeights& w) {
  return group_sums_portable<Fp61, Fp61x2>(z00, z01, z10, z11, w.eq);
}

#ifdef NNP_X86_KERNELS
#define NNP_AVX512_IFMA __attribute__((target("avx512f,avx512ifma")))
// GCC 12's AVX-512 headers pass _mm512_undefined_epi32() as the unused merge operand of shifts,
// min and multiplies, which -Wmaybe-uninitialized reports once inlined here: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Eight canonical m61 values per register.
struct M61x8 {
  __m512i p, low52;
  NNP_AVX512_IFMA M61x8() : p(_mm512_set1_epi64(static_cast<long long>(Fp61::P))), low52(_mm512_set1_epi64(static_cast<long long>(kLow52))) {}

  // x - p where x >= p, else x (x < 2p): the wrapped difference of a smaller x is the larger.
  NNP_AVX512_IFMA __m512i reduce_once(__m512i x) const { return _mm512_min_epu64(x, _mm512_sub_epi64(x, p)); }
  NNP_AVX512_IFMA __m512i add(__m512i a, __m512i b) const { return reduce_once(_mm512_add_epi64(a, b)); }
  NNP_AVX512_IFMA __m512i sub(__m512i a, __m512i b) const { return reduce_once(_mm512_sub_epi64(_mm512_add_epi64(a, p), b)); }

  // The product hh 2^64 + mid 2^32 + ll (hh < 2^58, mid < 2^62) mod p: 2^64 = 8 and 2^61 = 1, so
  // mid 2^32 = (mid >> 29) + (mid mod 2^29) 2^32 and ll = (ll >> 61) + (ll mod 2^61); the sum of
  // the pieces is below 2^63, folded once more at bit 61 and reduced.
  NNP_AVX512_IFMA __m512i reduce_product(__m512i ll, __m512i mid, __m512i hh) const {
    __m512i t = _mm512_add_epi64(_mm512_slli_epi64(hh, 3), _mm512_srli_epi64(mid, 29));
    t = _mm512_add_epi64(t, _mm512_and_si512(_mm512_slli_epi64(mid, 32), p));
    t = _mm512_add_epi64(t, _mm512_srli_epi64(ll, 61));
    t = _mm512_add_epi64(t, _mm512_and_si512(ll, p));
    return reduce_once(_mm512_add_epi64(_mm512_and_si512(t, p), _mm512_srli_epi64(t, 61)));
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
};

// sum e x for one coordinate e of eq(r, k), x a canonical product: with e = e1 2^52 + e0 and
// x = x1 2^52 + x0 (e0, x0 < 2^52; e1, x1 < 2^9), each 52-bit multiply-add adds the low or high
// 52 bits of a partial product to the accumulator of its weight 1, 2^52 or 2^104. Every addend is
// below 2^52, so an accumulator takes 4096 of them; it takes three per column group of eight.
struct Lazy52 {
  __m512i lo, mid, hi;
  NNP_AVX512_IFMA void clear() { lo = mid = hi = _mm512_setzero_si512(); }
  NNP_AVX512_IFMA void add(__m512i e0, __m512i e1, __m512i x0, __m512i x1) {
    lo = _mm512_madd52lo_epu64(lo, e0, x0);
    mid = _mm512_madd52hi_epu64(mid, e0, x0);
    mid = _mm512_madd52lo_epu64(mid, e1, x0);
    mid = _mm512_madd52lo_epu64(mid, e0, x1);
    hi = _mm512_madd52hi_epu64(hi, e1, x0);
    hi = _mm512_madd52hi_epu64(hi, e0, x1);
    hi = _mm512_madd52lo_epu64(hi, e1, x1);  // e1 x1 < 2^18: no high part
  }
  // lo + mid 2^52 + hi 2^104 over the eight lanes, mod p (2^104 = 2^43).
  NNP_AVX512_IFMA Fp61 value() const {
    alignas(64) std::uint64_t l[8], m[8], h[8];
    _mm512_store_si512(l, lo), _mm512_store_si512(m, mid), _mm512_store_si512(h, hi);
    u128 sl = 0, sm = 0, sh = 0;
    for (unsigned i = 0; i < 8; ++i) sl += l[i], sm += m[i], sh += h[i];
    return Fp61::from_u128(sl) + Fp61::from_u128(sm) * Fp61{std::uint64_t{1} << 52} + Fp61::from_u128(sh) * Fp61{std::uint64_t{1} << 43};
  }
};

// Columns per flush of the accumulators: 1024 groups of eight, three addends each (< 4096).
constexpr std::size_t kFlushColumns = 8 * 1024;

// One of three passes over the group's columns, three of the nine sums each (18 accumulators fit
// the 32 registers; the four rows stay in L1 between passes): kSumA, kSumB or kSumD (see the header).
template <int kPass>
NNP_AVX512_IFMA void group_pass(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11, const M61ColumnWeights& w,
                                Fp61x2* out) {
  const M61x8 f;
  const std::size_t cols = w.eq.size();
  for (unsigned i = 0; i < 3; ++i) out[i] = Fp61x2::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    Lazy52 re[3], im[3];
    for (unsigned i = 0; i < 3; ++i) re[i].clear(), im[i].clear();
    for (std::size_t k = k0; k < k1; k += 8) {
      const __mmask8 m = k1 - k >= 8 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (k1 - k)) - 1);
      const __m512i a0 = _mm512_maskz_loadu_epi64(m, z00 + k), a1 = _mm512_maskz_loadu_epi64(m, z01 + k);
      const __m512i a2 = f.sub(f.add(a1, a1), a0);
      __m512i x[3];
      if constexpr (kPass == 0) {
        x[0] = f.square(a0), x[1] = f.square(a1), x[2] = f.square(a2);
      } else {
        const __m512i d0 = f.sub(_mm512_maskz_loadu_epi64(m, z10 + k), a0), d1 = f.sub(_mm512_maskz_loadu_epi64(m, z11 + k), a1);
        const __m512i d2 = f.sub(f.add(d1, d1), d0);
        if constexpr (kPass == 1) {
          x[0] = f.mul(a0, d0), x[1] = f.mul(a1, d1), x[2] = f.mul(a2, d2);
        } else {
          x[0] = f.square(d0), x[1] = f.square(d1), x[2] = f.square(d2);
        }
      }
      const __m512i re0 = _mm512_loadu_si512(w.re_lo.data() + k), re1 = _mm512_loadu_si512(w.re_hi.data() + k);
      const __m512i im0 = _mm512_loadu_si512(w.im_lo.data() + k), im1 = _mm512_loadu_si512(w.im_hi.data() + k);
      for (unsigned i = 0; i < 3; ++i) {
        const __m512i x0 = _mm512_and_si512(x[i], f.low52), x1 = _mm512_srli_epi64(x[i], 52);
        re[i].add(re0, re1, x0, x1);
        im[i].add(im0, im1, x0, x1);
      }
    }
    for (unsigned i = 0; i < 3; ++i) out[i] += Fp61x2{re[i].value(), im[i].value()};
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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

}  // namespace

std::vector<M61GroupSumsKernel> m61_group_sums_kernels() {
  std::vector<M61GroupSumsKernel> k;
#ifdef NNP_X86_KERNELS
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma")) k.push_back({"avx512-ifma", group_sums_avx512});
#endif
  k.push_back({"portable", group_sums_portable_m61});
  return k;
}

std::array<Fp61x2, kM61GroupSums> m61_group_sums(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11,
                                                 const M61ColumnWeights& w) {
  static const M61GroupSumsFn fn = m61_group_sums_kernels().front().fn;
  return fn(z00, z01, z10, z11, w);
}

}  // namespace nnproof

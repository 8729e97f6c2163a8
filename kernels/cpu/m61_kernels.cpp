// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/m61_kernels.hpp"

#include <algorithm>
#include <initializer_list>

#include "core/simd/m61_avx512.hpp"
#include "core/simd/x86.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"

namespace nnproof {

namespace {

constexpr M61Kernels kPortable = portable_kernels<Fp61, Fp61x2, M61ColumnWeights>();

#ifdef NNP_M61_AVX512
using namespace m61_avx512;
NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)

// Pass kPass's three terms at columns k..k+7 (zero past k1), as Limbs52: pass 0 a_t^2, pass 1
// a_t d_t, pass 2 d_t^2 for t = 0, 1, 2.
template <int kPass>
[[gnu::always_inline]] NNP_AVX512_IFMA inline std::array<Limbs52, 3> group_terms(const M61x8& f, const Fp61* z00,
                                                                                 const Fp61* z01, const Fp61* z10,
                                                                                 const Fp61* z11, std::size_t k,
                                                                                 std::size_t k1) {
  const std::size_t n = k1 - k;
  // Lazily reduced (M61x8's lazy forms), each below 2^62: a0, a1 canonical, a2 = 2 a1 - a0, d0 and
  // d1 below 2p, d2 = 2 d1 - d0 below 2^61 + 8; the products below 2^64.
  const __m512i a0 = load_up_to_8(z00 + k, n), a1 = load_up_to_8(z01 + k, n);
  const __m512i a2 = f.reduce_once(f.sub_lazy(_mm512_add_epi64(a1, a1), a0));
  __m512i x[3];
  if constexpr (kPass == 0) {
    x[0] = f.square_wide(a0), x[1] = f.square_wide(a1), x[2] = f.square_wide(a2);
  } else {
    const __m512i d0 = f.sub_lazy(load_up_to_8(z10 + k, n), a0), d1 = f.sub_lazy(load_up_to_8(z11 + k, n), a1);
    // 2 d1 + 2p - d0 < 6p, folded
    const __m512i d2 = f.fold61_lazy(_mm512_sub_epi64(_mm512_add_epi64(_mm512_add_epi64(d1, d1), f.p2), d0));
    if constexpr (kPass == 1) {
      x[0] = f.mul_wide(a0, d0), x[1] = f.mul_wide(a1, d1), x[2] = f.mul_wide(a2, d2);
    } else {
      x[0] = f.square_wide(d0), x[1] = f.square_wide(d1), x[2] = f.square_wide(d2);
    }
  }
  return {Limbs52::of(x[0], f), Limbs52::of(x[1], f), Limbs52::of(x[2], f)};
}

// One of three passes over a group's columns, three of the nine sums each (the accumulators fit
// the registers; the group's rows stay in L1 between passes). Each step computes the next
// columns' terms before it adds up its own: written in this order, the multiply-adds need not
// wait for the products' long chains (~7% faster on Zen 4).
template <int kPass>
NNP_AVX512_IFMA void group_pass(const Fp61* z00, const Fp61* z01, const Fp61* z10, const Fp61* z11,
                                const M61ColumnWeights& w, Fp61x2* out) {
  const M61x8 f;
  const std::size_t cols = w.eq.size();
  for (unsigned i = 0; i < 3; ++i) out[i] = Fp61x2::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    // Named, not an array: GCC 12 kept an array's accumulators in registers but also stored them
    // to the stack on every step.
    Lazy52 re0, re1, re2, im0, im1, im2;
    std::array<Limbs52, 3> x = group_terms<kPass>(f, z00, z01, z10, z11, k0, k1);
    for (std::size_t k = k0; k < k1; k += 8) {
      if constexpr (kPass == 0) {
        // The rows the next passes and the next group read ("Prefetch" in sumcheck_kernels.hpp).
        __builtin_prefetch(z10 + k, 0, 3), __builtin_prefetch(z11 + k, 0, 3);
        __builtin_prefetch(z00 + cols + k, 0, 2), __builtin_prefetch(z01 + cols + k, 0, 2);
      }
      // (past the end: the last columns again, unused)
      const std::array<Limbs52, 3> next = group_terms<kPass>(f, z00, z01, z10, z11, k + 8 < k1 ? k + 8 : k, k1);
      const Limbs52 er = Limbs52::load(w.re_lo.data() + k, w.re_hi.data() + k);
      const Limbs52 ei = Limbs52::load(w.im_lo.data() + k, w.im_hi.data() + k);
      re0.add(er, x[0]), re1.add(er, x[1]), re2.add(er, x[2]);
      im0.add(ei, x[0]), im1.add(ei, x[1]), im2.add(ei, x[2]);
      x = next;
    }
    out[0] += Fp61x2{re0.total(), im0.total()};
    out[1] += Fp61x2{re1.total(), im1.total()};
    out[2] += Fp61x2{re2.total(), im2.total()};
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
      // z2 = 2 h - l and the squares lazily reduced (Limbs52 takes them as they are)
      const KVec z2{f.fold61_lazy(f.sub_lazy(_mm512_add_epi64(h.re, h.re), l.re)),
                    f.fold61_lazy(f.sub_lazy(_mm512_add_epi64(h.im, h.im), l.im))};
      const Limbs52K e = Limbs52K::of(Limbs52::load(w.re_lo.data() + k, w.re_hi.data() + k),
                                      Limbs52::load(w.im_lo.data() + k, w.im_hi.data() + k), f);
      q0.add(e, Limbs52K::of(f.square_lazy(l), f));
      q2.add(e, Limbs52K::of(f.square_lazy(z2), f));
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
    const Limbs52 dre = Limbs52::of(f.sub_lazy(x1.re, x0.re), f), dim = Limbs52::of(f.sub_lazy(x1.im, x0.im), f);
    Lazy52 re, im;
    re.add(rr, dre), re.add(neg_ri, dim);
    im.add(rr, dim), im.add(ri, dre);
    f.store(out + k,
            {f.fold61(_mm512_add_epi64(x0.re, re.lanes_lazy(f))), f.fold61(_mm512_add_epi64(x0.im, im.lanes_lazy(f)))});
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
    // Lazily reduced: d0 below 2p, twist = z11 - a1 - d0 (+ 3p) below 4p.
    const __m512i d0 = f.sub_lazy(_mm512_loadu_si512(z10 + k), a0);
    const __m512i twist = _mm512_sub_epi64(_mm512_add_epi64(f.sub_lazy(_mm512_loadu_si512(z11 + k), a1), f.p2), d0);
    const Limbs52 x1 = Limbs52::of(d0, f), x2 = Limbs52::of(f.sub_lazy(a1, a0), f), x3 = Limbs52::of(twist, f);
    Lazy52 re, im;
    re.add(r1re, x1), re.add(r2re, x2), re.add(r12re, x3);
    im.add(r1im, x1), im.add(r2im, x2), im.add(r12im, x3);
    f.store(out + k, {f.fold61(_mm512_add_epi64(a0, re.lanes_lazy(f))), im.lanes(f)});
  }
}
NNP_AVX512_IFMA void row_dots_avx512(const Fp61* y, std::size_t rows, const M61ColumnWeights& w, Fp61x2* out) {
  for (std::size_t j = 0; j < rows; ++j) out[j] = m61_row_dot_avx512(y + j * w.eq.size(), w);
}

NNP_AVX512_IFMA void square_entries_avx512(const Fp61* z, Fp61* y, std::size_t n) {
  const M61x8 f;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_si512(y + i, f.square(_mm512_loadu_si512(z + i)));
  if (i == n) return;
  const auto m = static_cast<__mmask8>((1u << (n - i)) - 1);
  _mm512_mask_storeu_epi64(y + i, m, f.square(_mm512_maskz_loadu_epi64(m, z + i)));
}
NNP_AVX512_WARNINGS_ON
#endif

}  // namespace

std::vector<M61Kernels> m61_kernels_available() {
  std::vector<M61Kernels> k;
#ifdef NNP_M61_AVX512
  if (avx512_ifma_kernels_allowed())
    k.push_back({"avx512-ifma", group_sums_avx512, pair_q_avx512, fold_row_avx512, fold_two_avx512, row_dots_avx512});
#endif
  k.push_back(kPortable);
  return k;
}

void m61_square_entries(const Fp61* z, Fp61* y, std::size_t n) {
#ifdef NNP_M61_AVX512
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

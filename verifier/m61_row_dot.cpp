#include "verifier/m61_row_dot.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/lazy.hpp"
#include "verifier/m61_avx512.hpp"

namespace nnproof {

M61ColumnWeights::M61ColumnWeights(std::span<const Fp61x2> e) : eq(e) {
  constexpr std::uint64_t kLow52 = (std::uint64_t{1} << 52) - 1;
  const std::size_t n = (e.size() + 7) / 8 * 8;
  re_lo.assign(n, 0), re_hi.assign(n, 0), im_lo.assign(n, 0), im_hi.assign(n, 0);
  for (std::size_t k = 0; k < e.size(); ++k) {
    re_lo[k] = e[k].re.v & kLow52, re_hi[k] = e[k].re.v >> 52;
    im_lo[k] = e[k].im.v & kLow52, im_hi[k] = e[k].im.v >> 52;
  }
}

namespace {
Fp61x2 row_dot_portable(const Fp61* y, const M61ColumnWeights& w) {
  LazyDot<Fp61x2, Fp61> acc;
  for (std::size_t k = 0; k < w.eq.size(); ++k) acc.add(w.eq[k], y[k]);
  return acc.result();
}

bool avx512_ifma_present() {
#ifdef NNP_M61_AVX512
  static const bool present = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
  return present;
#else
  return false;
#endif
}
}  // namespace

#ifdef NNP_M61_AVX512
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // see m61_avx512.hpp
#endif
using namespace m61_avx512;
// sum_k eq(r, k) y[k] for one row: two products per column, in 52-bit limbs (tails masked to zero).
NNP_AVX512_IFMA Fp61x2 m61_row_dot_avx512(const Fp61* y, const M61ColumnWeights& w) {
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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
Fp61x2 m61_row_dot_avx512(const Fp61*, const M61ColumnWeights&) {
  throw std::logic_error("m61_row_dot_avx512: not built for this CPU");
}
#endif

std::vector<M61RowDotKernel> m61_row_dot_kernels() {
  std::vector<M61RowDotKernel> k;
  if (avx512_ifma_present()) k.push_back({"avx512-ifma", m61_row_dot_avx512});
  k.push_back({"portable", row_dot_portable});
  return k;
}

Fp61x2 m61_row_dot(const Fp61* y, const M61ColumnWeights& w) {
  static const M61RowDotFn fn = m61_row_dot_kernels().front().fn;
  return fn(y, w);
}

}  // namespace nnproof

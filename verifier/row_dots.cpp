// SPDX-License-Identifier: Apache-2.0
#include "verifier/row_dots.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "core/lazy.hpp"
#include "core/simd/m127_avx512.hpp"
#include "core/simd/m61_avx512.hpp"
#include "core/simd/x86.hpp"

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

M127ColumnWeights::M127ColumnWeights(std::span<const Fp127> e) : eq(e) {
  constexpr std::uint64_t kLimbMask = (std::uint64_t{1} << 52) - 1;
  const std::size_t n = (e.size() + 7) / 8 * 8;
  limb0.assign(n, 0), limb1.assign(n, 0), limb2.assign(n, 0);
  total = Fp127::zero();
  for (std::size_t k = 0; k < e.size(); ++k) {
    total += e[k];
    const u128 v = e[k].v;
    limb0[k] = static_cast<std::uint64_t>(v) & kLimbMask;
    limb1[k] = static_cast<std::uint64_t>(v >> 52) & kLimbMask;
    limb2[k] = static_cast<std::uint64_t>(v >> 104);
  }
}

#if defined(NNP_M61_AVX512) && defined(NNP_M127_AVX512)
NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)
namespace m61_avx512 {
// sum_k eq(r, k) y[k] for one row: two products per column, in 52-bit limbs (tails masked to zero).
NNP_AVX512_IFMA Fp61x2 row_dot(const Fp61* y, const M61ColumnWeights& w) {
  const M61x8 f;
  const std::size_t cols = w.eq.size();
  Fp61x2 total = Fp61x2::zero();
  for (std::size_t k0 = 0; k0 < cols; k0 += kFlushColumns) {
    const std::size_t k1 = std::min(cols, k0 + kFlushColumns);
    Lazy52 re, im;
    for (std::size_t k = k0; k < k1; k += 8) {
      __builtin_prefetch(y + cols + k, 0, 3);  // the next row
      const Limbs52 x = Limbs52::of(load_up_to_8(y + k, k1 - k), f);
      re.add(Limbs52::load(w.re_lo.data() + k, w.re_hi.data() + k), x);
      im.add(Limbs52::load(w.im_lo.data() + k, w.im_hi.data() + k), x);
    }
    total += Fp61x2{re.total(), im.total()};
  }
  return total;
}
}  // namespace m61_avx512

namespace m127_avx512 {
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
}  // namespace m127_avx512
NNP_AVX512_WARNINGS_ON

Fp61x2 m61_row_dot_avx512(const Fp61* y, const M61ColumnWeights& w) { return m61_avx512::row_dot(y, w); }
Fp127 m127_row_dot_avx512(const Fp127* y, const M127ColumnWeights& w) { return m127_avx512::row_dot(y, w); }
#else
Fp61x2 m61_row_dot_avx512(const Fp61*, const M61ColumnWeights&) {
  throw std::logic_error("m61_row_dot_avx512: not built for this CPU");
}
Fp127 m127_row_dot_avx512(const Fp127*, const M127ColumnWeights&) {
  throw std::logic_error("m127_row_dot_avx512: not built for this CPU");
}
#endif

namespace {
template <class K>
K row_dot_portable(const base_field_t<K>* y, const ColumnWeights<K>& w) {
  LazyDot<K, base_field_t<K>> acc;
  for (std::size_t k = 0; k < w.eq.size(); ++k) acc.add(w.eq[k], y[k]);
  return acc.result();
}

bool avx512_ifma_present() {
#if defined(NNP_M61_AVX512) && defined(NNP_M127_AVX512)
  static const bool present = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
  return present;
#else
  return false;
#endif
}
}  // namespace

template <class K>
std::vector<RowDotKernel<K>> row_dot_kernels() {
  std::vector<RowDotKernel<K>> k;
  if constexpr (std::is_same_v<K, Fp61x2>) {
    if (avx512_ifma_present()) k.push_back({"avx512-ifma", m61_row_dot_avx512});
  } else {
    if (avx512_ifma_present()) k.push_back({"avx512-ifma", m127_row_dot_avx512});
  }
  k.push_back({"portable", row_dot_portable<K>});
  return k;
}

template <class K>
K row_dot(const base_field_t<K>* y, const ColumnWeights<K>& w) {
  static const auto fn = row_dot_kernels<K>().front().fn;
  return fn(y, w);
}

template std::vector<RowDotKernel<Fp61x2>> row_dot_kernels<Fp61x2>();
template std::vector<RowDotKernel<Fp127>> row_dot_kernels<Fp127>();
template Fp61x2 row_dot<Fp61x2>(const Fp61*, const M61ColumnWeights&);
template Fp127 row_dot<Fp127>(const Fp127*, const M127ColumnWeights&);

}  // namespace nnproof

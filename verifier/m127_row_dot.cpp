#include "verifier/m127_row_dot.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/lazy.hpp"
#include "verifier/m127_avx512.hpp"

namespace nnproof {

M127ColumnWeights::M127ColumnWeights(std::span<const Fp127> e) : eq(e) {
  constexpr std::uint64_t kLimbMask = (std::uint64_t{1} << 52) - 1;
  const std::size_t n = (e.size() + 7) / 8 * 8;
  limb0.assign(n, 0), limb1.assign(n, 0), limb2.assign(n, 0);
  for (std::size_t k = 0; k < e.size(); ++k) {
    const u128 v = e[k].v;
    limb0[k] = static_cast<std::uint64_t>(v) & kLimbMask;
    limb1[k] = static_cast<std::uint64_t>(v >> 52) & kLimbMask;
    limb2[k] = static_cast<std::uint64_t>(v >> 104);
  }
}

namespace {
Fp127 row_dot_portable(const Fp127* y, const M127ColumnWeights& w) {
  LazyDot<Fp127, Fp127> acc;
  for (std::size_t k = 0; k < w.eq.size(); ++k) acc.add(w.eq[k], y[k]);
  return acc.result();
}

bool avx512_ifma_present() {
#ifdef NNP_M127_AVX512
  static const bool present = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
  return present;
#else
  return false;
#endif
}
}  // namespace

#ifdef NNP_M127_AVX512
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // see m127_avx512.hpp
#endif
using namespace m127_avx512;
// sum_k eq(r, k) y[k] for one row: one product per column into five accumulators (tails read as
// zero).
NNP_AVX512_IFMA Fp127 m127_row_dot_avx512(const Fp127* y, const M127ColumnWeights& w) {
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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
Fp127 m127_row_dot_avx512(const Fp127*, const M127ColumnWeights&) {
  throw std::logic_error("m127_row_dot_avx512: not built for this CPU");
}
#endif

std::vector<M127RowDotKernel> m127_row_dot_kernels() {
  std::vector<M127RowDotKernel> k;
  if (avx512_ifma_present()) k.push_back({"avx512-ifma", m127_row_dot_avx512});
  k.push_back({"portable", row_dot_portable});
  return k;
}

Fp127 m127_row_dot(const Fp127* y, const M127ColumnWeights& w) {
  static const M127RowDotFn fn = m127_row_dot_kernels().front().fn;
  return fn(y, w);
}

}  // namespace nnproof

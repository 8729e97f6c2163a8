// SPDX-License-Identifier: Apache-2.0
#pragma once
// The first pass over a quadratic activation's Z (square_sumcheck.hpp): V = col_combine(Z o Z)
// with the per-group sums that the square sum-check's first two rounds are made from, and the
// AVX-512 kernel sets (SimdKernels) that it, the sum-check and col_combine run on.
#include <span>
#include <type_traits>
#include <vector>

#include "core/lazy.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/m61_kernels.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "kernels/engine/table.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The AVX-512 kernel set of a field configuration, where it has one: m61 with K = F_{p^2} (the
// default) and m127. Each set runs its portable twin (sumcheck_kernels.hpp) on other CPUs.
template <class F, class K>
struct SimdKernels {
  static constexpr bool kHave = false;
  struct Weights {
    explicit Weights(std::span<const K>) {}
  };
};
template <>
struct SimdKernels<Fp61, Fp61x2> {
  static constexpr bool kHave = true;
  using Weights = M61ColumnWeights;
  static const M61Kernels& get() { return m61_kernels(); }
};
template <>
struct SimdKernels<Fp127, Fp127> {
  static constexpr bool kHave = true;
  using Weights = M127ColumnWeights;
  static const M127Kernels& get() { return m127_kernels(); }
};

// V[j] = sum_k eq(r, k) Z[j][k]^2 (col_combine of Z o Z) and, in `sums`, the groups' sums.
template <class F, class K>
std::vector<K> square_group_sums(const Table2D<F>& Z, std::span<const K> ec, std::vector<K>& sums) {
  using Simd = SimdKernels<F, K>;
  static_assert(kM61GroupSums == kGroupSums);
  const std::size_t rows = Z.rows, cols = Z.cols, quarter = rows / 4, half = rows / 2;
  assert(ec.size() >= cols);
  ec = ec.first(cols);  // the kernels run over ec.size() columns
  std::vector<K> V(rows);
  sums.assign(kGroupSums * quarter, K::zero());
  std::optional<typename Simd::Weights> weights;
  if constexpr (Simd::kHave) weights.emplace(ec);
  parallel_for(quarter, [&](std::size_t g) {
    const F* z00 = Z.data.data() + g * cols;
    const F *z01 = z00 + quarter * cols, *z10 = z00 + half * cols, *z11 = z01 + half * cols;
    std::array<K, kGroupSums> r;
    if constexpr (Simd::kHave) {
      r = Simd::get().group_sums(z00, z01, z10, z11, *weights);
    } else {
      r = group_sums_portable<F, K>(z00, z01, z10, z11, ec);
    }
    K* out = sums.data() + kGroupSums * g;
    std::copy(r.begin(), r.end(), out);
    // z(1, t)^2 = (a_t + d_t)^2
    V[g] = out[kSumA];
    V[g + quarter] = out[kSumA + 1];
    V[g + half] = out[kSumA] + out[kSumB] + out[kSumB] + out[kSumD];
    V[g + half + quarter] = out[kSumA + 1] + out[kSumB + 1] + out[kSumB + 1] + out[kSumD + 1];
  });
  return V;
}

}  // namespace nnproof

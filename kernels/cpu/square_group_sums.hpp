// SPDX-License-Identifier: Apache-2.0
#pragma once
// The first pass over a quadratic activation's Z (square_sumcheck.hpp): V = col_combine(Z o Z)
// with the per-group sums that the square sum-check's first two rounds are made from, and the
// AVX-512 kernel sets (SimdKernels) that it, the sum-check and col_combine run on.
#include <array>
#include <cassert>
#include <span>
#include <type_traits>
#include <vector>

#include "core/lazy.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/m61_kernels.hpp"
#include "kernels/cpu/narrow_table.hpp"
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

// The integer kernels of the group sums for a narrow table whose entries they take (m127, an
// AVX-512 IFMA CPU): m127_narrow_group_sums for int32 entries below 2^kNarrowProductBits (its
// one-limb kernel at or below kSmallNarrowEntryBits),
// m127_wide_group_sums for int64 ones below 2^kWideEntryBits (its two-limb kernel at or below
// kSmallWideEntryBits, picked by the table's bits), which read the rows in place. Null otherwise:
// the rows are then widened into the field's kernels.
template <class F, class K, class T>
using NarrowGroupSums = std::array<K, kGroupSums> (*)(const T*, const T*, const T*, const T*,
                                                      const typename SimdKernels<F, K>::Weights&);

template <class F, class K>
NarrowGroupSums<F, K, std::int32_t> narrow_group_sums_kernel(const NarrowTable* narrow) {
  if constexpr (std::is_same_v<F, Fp127> && std::is_same_v<K, Fp127>) {
    if (narrow && narrow->entries32() && narrow->bits <= kNarrowProductBits)
      return m127_narrow_group_sums(narrow->bits);
  }
  return nullptr;
}

// Every int64 table the engine writes is one the wide kernels take.
static_assert(kNarrowWideBits <= kWideEntryBits);

template <class F, class K>
NarrowGroupSums<F, K, std::int64_t> wide_group_sums_kernel(const NarrowTable* narrow) {
  if constexpr (std::is_same_v<F, Fp127> && std::is_same_v<K, Fp127>) {
    if (narrow && narrow->wide() && narrow->bits <= kWideEntryBits) return m127_wide_group_sums(narrow->bits);
  }
  return nullptr;
}

// V[j] = sum_k eq(r, k) Z[j][k]^2 (col_combine of Z o Z) and, in `sums`, the groups' sums. Z may
// be a narrow table (narrow_table.hpp): its rows are read in place by the integer kernel where it
// applies, else widened a chunk of columns at a time, the chunks' sums added (they are linear in
// eq(r, .)).
template <class F, class K>
std::vector<K> square_group_sums(const Table2D<F>& Z, std::span<const K> ec, std::vector<K>& sums) {
  using Simd = SimdKernels<F, K>;
  static_assert(kM61GroupSums == kGroupSums);
  const std::size_t rows = Z.rows, cols = Z.cols, quarter = rows / 4, half = rows / 2;
  assert(ec.size() >= cols);
  const NarrowTable* narrow = narrow_table(Z);
  const NarrowGroupSums<F, K, std::int32_t> kernel32 = narrow_group_sums_kernel<F, K>(narrow);
  const NarrowGroupSums<F, K, std::int64_t> kernel64 = wide_group_sums_kernel<F, K>(narrow);
  const bool in_place = kernel32 || kernel64;
  const std::size_t chunk = in_place ? cols : widen_chunk(Z, narrow), chunks = cols / chunk;  // powers of two
  std::vector<K> V(rows);
  sums.assign(kGroupSums * quarter, K::zero());
  std::vector<typename Simd::Weights> weights;  // per chunk of columns (the kernels run over its size)
  for (std::size_t c = 0; c < chunks; ++c) weights.emplace_back(ec.subspan(c * chunk, chunk));
  parallel_for(quarter, [&](std::size_t g) {
    std::array<K, kGroupSums> r;
    r.fill(K::zero());
    WidenBuffer<F> buf;
    const bool upper_zero = narrow && g + half >= narrow->real_rows;  // rows g + half on: padding
    // Every row of the group zero (NarrowTable::zero_rows): every sum is zero, nothing is read.
    const bool all_zero = narrow && narrow->zero_group(g, quarter);
    // The rows read in place.
    const auto group = [&](auto kernel, const auto* entries) {
      const auto* z = entries + g * cols;
      if (upper_zero) return kernel(z, z + quarter * cols, nullptr, nullptr, weights[0]);
      return kernel(z, z + quarter * cols, z + half * cols, z + (half + quarter) * cols, weights[0]);
    };
    if (kernel32 && !all_zero) r = group(kernel32, narrow->entries32());
    if (kernel64 && !all_zero) r = group(kernel64, narrow->v64.data());
    for (std::size_t c = 0; c < chunks && !in_place && !all_zero; ++c) {
      const auto z =
          rows_at<F, 4>(Z, narrow, {g, g + quarter, g + half, g + half + quarter}, c * chunk, chunk, buf.data());
      std::array<K, kGroupSums> part;
      if constexpr (Simd::kHave) {
        part = Simd::get().group_sums(z[0], z[1], z[2], z[3], weights[c]);
      } else {
        part = group_sums_portable<F, K>(z[0], z[1], z[2], z[3], ec.subspan(c * chunk, chunk));
      }
      for (unsigned i = 0; i < kGroupSums; ++i) r[i] += part[i];
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

// SPDX-License-Identifier: Apache-2.0
#pragma once
// The pieces of the activation sum-check (square_sumcheck.hpp) that a carry makes: its first two
// row rounds from the per-group sums of Z's rows (square_group_sums.hpp, computed in the pass
// that makes V), and the integer kernels of the fold that binds both of their variables at once,
// reading a narrow Z in place.
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "core/polynomial.hpp"
#include "kernels/cpu/eq_parallel.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/square_group_sums.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The integer kernels of the first fold of a narrow table (m127, an AVX-512 IFMA CPU):
// m127_narrow_fold_two for int32 entries, m127_wide_fold_two for int64 entries below
// 2^kWideEntryBits (its one-limb kernel at or below kSmallWideEntryBits, picked by the table's
// bits), which read the rows in place. Null otherwise: the rows are then widened into the field's
// kernels (as narrow_group_sums_kernel, square_group_sums.hpp).
template <class F, class K, class T>
using NarrowFoldTwo = void (*)(const T*, const T*, const T*, const T*, K, K, K*, std::size_t);

template <class F, class K>
NarrowFoldTwo<F, K, std::int32_t> narrow_fold_two_kernel(const NarrowTable* narrow) {
  if constexpr (std::is_same_v<F, Fp127> && std::is_same_v<K, Fp127>) {
    if (narrow && narrow->entries32()) return m127_narrow_fold_two();
  }
  return nullptr;
}

template <class F, class K>
NarrowFoldTwo<F, K, std::int64_t> wide_fold_two_kernel(const NarrowTable* narrow) {
  if constexpr (std::is_same_v<F, Fp127> && std::is_same_v<K, Fp127>) {
    if (narrow && narrow->wide() && narrow->bits <= kWideEntryBits) return m127_wide_fold_two(narrow->bits);
  }
  return nullptr;
}

// Rounds 1 and 2 of the row rounds, from the group sums: each group g is the rows g + i rows/4
// (i < 4, the top two row variables b1 b2 = i in binary). Both rounds' q(t) are linear
// combinations of sum_g eq(s_0 .. s_{v-3}, g) x (group g's sums), v the number of row variables:
// weighed once here, O(rows) products, instead of reading Z.
template <class K>
class CarriedRounds {
 public:
  // group_sums: kGroupSums per group (square_group_sums); s_low: s_0 .. s_{v-3}.
  CarriedRounds(const std::vector<K>& group_sums, std::span<const K> s_low) {
    const std::vector<K> E = eq_table_parallel<K>(s_low);
    assert(group_sums.size() == kGroupSums * E.size());  // rows/4 groups: Z's rows a power of two
    if constexpr (SimdKernels<K, K>::kHave) {
      weighted_ = weigh_by_row_dots(group_sums, E);
    } else {
      weighted_ = parallel_sum<K, kGroupSums>(E.size(), [&](std::size_t g) {
        std::array<K, kGroupSums> w;
        for (unsigned i = 0; i < kGroupSums; ++i) w[i] = E[g] * group_sums[kGroupSums * g + i];
        return w;
      });
    }
  }

  // q(0), q(1), q(2) of round 1, which binds b1; its pairs are z(0, b2) and z(1, b2) with weight
  // eq(s2, b2), s2 = s_{v-2}: q(t) = sum over b2 of eq(s2, b2) (A_b2 + 2t B_b2 + t^2 D_b2).
  std::array<K, 3> round1(K s2) const {
    const K one = K::one();
    auto q = [&](K t) {
      auto at = [&](unsigned b2) {
        return weighted_[kSumA + b2] + (t + t) * weighted_[kSumB + b2] + t * t * weighted_[kSumD + b2];
      };
      return (one - s2) * at(0) + s2 * at(1);
    };
    return {q(K::zero()), q(one), q(one + one)};
  }

  // q(0), q(1), q(2) of round 2, which binds b2 with b1 = rho1: z = a_t + rho1 d_t, so
  // q(t) = A_t + 2 rho1 B_t + rho1^2 D_t.
  std::array<K, 3> round2(K rho1) const {
    auto q = [&](unsigned t) {
      return weighted_[kSumA + t] + (rho1 + rho1) * weighted_[kSumB + t] + rho1 * rho1 * weighted_[kSumD + t];
    };
    return {q(0), q(1), q(2)};
  }

 private:
  // m127 (K its own base field): each kind of sum as a row, dotted with E by the kernel set's row
  // dots (AVX-512 where oneDNN's cap allows it, as every kernel of the set: square_group_sums.hpp),
  // one row a task: a scalar product a group and sum cost CIFAR-size's two activations ~0.5 ms a
  // proof at any batch (3% at batch 64).
  static std::array<K, kGroupSums> weigh_by_row_dots(const std::vector<K>& group_sums, const std::vector<K>& E) {
    const std::size_t groups = E.size();
    std::vector<K> rows(kGroupSums * groups);
    parallel_for(groups, [&](std::size_t g) {
      for (unsigned i = 0; i < kGroupSums; ++i) rows[i * groups + g] = group_sums[kGroupSums * g + i];
    });
    const typename SimdKernels<K, K>::Weights w(E);
    std::array<K, kGroupSums> out;
    parallel_for(kGroupSums,
                 [&](std::size_t i) { SimdKernels<K, K>::get().row_dots(rows.data() + i * groups, 1, w, &out[i]); });
    return out;
  }

  std::array<K, kGroupSums> weighted_{};
};

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's sum-check of a matrix product's claim, sum_j A[j] V[j] over two tables of K
// (Engine::product_sumcheck): a round is one parallel pass, and each fold is fused with the next
// round's sums.
#include <array>
#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/engine/engine.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The sum-check of sum_j A[j] V[j].
template <class K>
class CpuProductSumcheck final : public SumcheckProver<K> {
 public:
  CpuProductSumcheck(std::vector<K> A, std::vector<K> V) : a_(std::move(A)), v_(std::move(V)) {}
  std::array<K, 3> round() override {
    const std::size_t half = a_.size() / 2;
    auto h = parallel_sum<K, 2>(half, [&](std::size_t i) {
      K a2 = a_[i + half] + a_[i + half] - a_[i], v2 = v_[i + half] + v_[i + half] - v_[i];
      return std::array<K, 2>{a_[i] * v_[i], a2 * v2};
    });
    return {h[0], h[1], K::zero()};
  }
  void fold(K r) override {
    fold_top(a_, r);
    fold_top(v_, r);
  }
  // One parallel pass: task i folds entries i and i + quarter of both tables (each from itself and
  // its partner half a table up) and sums the next round's pair (i, i + quarter) while it has them.
  // Tasks touch disjoint entries, so the fold is in place.
  std::array<K, 3> fold_and_round(K r) override {
    const std::size_t half = a_.size() / 2, quarter = half / 2;
    assert(quarter >= 1);  // a round follows: at least two entries after the fold
    auto folded = [&](std::vector<K>& t, std::size_t i) { return t[i] = t[i] + r * (t[i + half] - t[i]); };
    auto h = parallel_sum<K, 2>(quarter, [&](std::size_t i) {
      const K a0 = folded(a_, i), a1 = folded(a_, i + quarter), v0 = folded(v_, i), v1 = folded(v_, i + quarter);
      return std::array<K, 2>{a0 * v0, (a1 + a1 - a0) * (v1 + v1 - v0)};
    });
    a_.resize(half);
    v_.resize(half);
    return {h[0], h[1], K::zero()};
  }
  K final_value() const override { return v_[0]; }

 private:
  std::vector<K> a_, v_;
};

}  // namespace nnproof

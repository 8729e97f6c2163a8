// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's sum-check of a matrix product's claim, sum_j A[j] V[j] over two tables of K
// (Engine::product_sumcheck): a round is one parallel pass, and each fold is fused with the next
// round's sums. For m127 on an AVX-512 IFMA CPU the round's sums and the fold are the IFMA kernels
// (m127_pair_products, the activation sum-check's fold_row), two passes over tables that stay in
// cache, in chunks (scalar 127-bit products were ~1.5 ms of a CIFAR-size proof at any batch).
#include <array>
#include <cassert>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/engine/engine.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The sum-check of sum_j A[j] V[j].
template <class K>
class CpuProductSumcheck final : public SumcheckProver<K> {
 public:
  CpuProductSumcheck(std::vector<K> A, std::vector<K> V) : a_(std::move(A)), v_(std::move(V)) {
    if constexpr (std::is_same_v<K, Fp127>) pair_products_ = m127_pair_products();
  }
  std::array<K, 3> round() override {
    const std::size_t half = a_.size() / 2;
    if constexpr (std::is_same_v<K, Fp127>)
      if (pair_products_) {
        const std::array<K, 2> h = by_chunks<2>(half, [&](std::size_t b, std::size_t n) {
          return pair_products_(a_.data() + b, a_.data() + half + b, v_.data() + b, v_.data() + half + b, n);
        });
        return {h[0], h[1], K::zero()};
      }
    auto h = parallel_sum<K, 2>(half, [&](std::size_t i) {
      K a2 = a_[i + half] + a_[i + half] - a_[i], v2 = v_[i + half] + v_[i + half] - v_[i];
      return std::array<K, 2>{a_[i] * v_[i], a2 * v2};
    });
    return {h[0], h[1], K::zero()};
  }
  void fold(K r) override {
    if constexpr (std::is_same_v<K, Fp127>)
      if (pair_products_) {  // the AVX-512 fold beside the AVX-512 round
        const std::size_t half = a_.size() / 2;
        for_chunks(half, [&](std::size_t b, std::size_t n) {
          for (std::vector<K>* t : {&a_, &v_})
            m127_kernels().fold_row(t->data() + b, t->data() + half + b, r, t->data() + b, n);
        });
        a_.resize(half);
        v_.resize(half);
        return;
      }
    fold_top(a_, r);
    fold_top(v_, r);
  }
  // One parallel pass: task i folds entries i and i + quarter of both tables (each from itself and
  // its partner half a table up) and sums the next round's pair (i, i + quarter) while it has them.
  // Tasks touch disjoint entries, so the fold is in place.
  std::array<K, 3> fold_and_round(K r) override {
    const std::size_t half = a_.size() / 2, quarter = half / 2;
    assert(quarter >= 1);  // a round follows: at least two entries after the fold
    if constexpr (std::is_same_v<K, Fp127>)
      if (pair_products_) {  // two passes of the AVX-512 kernels over tables that stay in cache
        fold(r);
        return round();
      }
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
  // Chunks [b, b + n) of [0, count), fn(b, n) for each, in parallel (one where count is small: a
  // parallel region costs more than a short chunk); by_chunks sums what fn returns.
  static constexpr std::size_t kChunk = 2048;
  template <class Fn>
  static void for_chunks(std::size_t count, Fn fn) {
    const std::size_t chunks = (count + kChunk - 1) / kChunk;
    const auto chunk = [&](std::size_t c) { fn(c * kChunk, std::min(kChunk, count - c * kChunk)); };
    if (chunks == 1) return chunk(0);
    parallel_for(chunks, chunk);
  }
  template <std::size_t N, class Fn>
  static std::array<K, N> by_chunks(std::size_t count, Fn fn) {
    const std::size_t chunks = (count + kChunk - 1) / kChunk;
    const auto chunk = [&](std::size_t c) { return fn(c * kChunk, std::min(kChunk, count - c * kChunk)); };
    if (chunks == 1) return chunk(0);
    return parallel_sum<K, N>(chunks, chunk);
  }

  std::vector<K> a_, v_;
  M127PairProducts pair_products_ = nullptr;  // m127 on an AVX-512 IFMA CPU
};

}  // namespace nnproof

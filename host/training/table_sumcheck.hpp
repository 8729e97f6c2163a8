// SPDX-License-Identifier: Apache-2.0
#pragma once
// The sum-check of sum_x prod_m T_m(x) over host tables of K (degree = number of tables, at most
// 3), on every core: the training prover's Hadamard reduction, whose three tables (an eq table, Z
// and E) no engine keeps. After the last fold, value(m) is table m's MLE at the point.
#include <array>
#include <vector>

#include "core/polynomial.hpp"
#include "kernels/engine/engine.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

template <class K>
class HostTableSumcheck final : public SumcheckProver<K> {
 public:
  explicit HostTableSumcheck(std::vector<std::vector<K>> tables)
      : t_(std::move(tables)), size_(t_.empty() ? 0 : t_[0].size()) {}

  std::array<K, 3> round() override {
    const std::size_t half = size_ / 2;
    return parallel_sum<K, 3>(half, [&](std::size_t i) { return pair_terms(i, i + half); });
  }
  void fold(K r) override {
    const std::size_t half = size_ / 2;
    parallel_for(half, [&](std::size_t i) {
      for (auto& t : t_) t[i] += r * (t[i + half] - t[i]);
    });
    size_ = half;
  }
  // One pass: task i folds entries i and i + quarter of every table (each from its partner half a
  // table up), then adds the next round's terms of the pair (i, i + quarter) while it holds them.
  // Tasks touch disjoint entries, so the fold is in place.
  std::array<K, 3> fold_and_round(K r) override {
    const std::size_t half = size_ / 2, quarter = half / 2;
    if (quarter == 0) {
      fold(r);
      return round();
    }
    auto h = parallel_sum<K, 3>(quarter, [&](std::size_t i) {
      for (auto& t : t_) {
        t[i] += r * (t[i + half] - t[i]);
        t[i + quarter] += r * (t[i + quarter + half] - t[i + quarter]);
      }
      return pair_terms(i, i + quarter);
    });
    size_ = half;
    return h;
  }
  K final_value() const override { return t_.back()[0]; }
  K value(std::size_t m) const { return t_[m][0]; }

 private:
  // h(0), h(2), h(3) terms of one pair: each table extended linearly from (lo, hi) to X.
  std::array<K, 3> pair_terms(std::size_t lo_at, std::size_t hi_at) const {
    std::array<K, 3> prod{};
    for (std::size_t m = 0; m < t_.size(); ++m) {
      const std::vector<K>& t = t_[m];
      const K lo = t[lo_at], step = t[hi_at] - lo, at2 = lo + step + step, at3 = at2 + step;
      if (m == 0) {  // the first table starts the products: no multiplication by one
        prod = {lo, at2, at3};
        continue;
      }
      prod[0] *= lo;
      prod[1] *= at2;
      prod[2] *= at3;
    }
    return prod;
  }

  std::vector<std::vector<K>> t_;
  std::size_t size_;  // entries still live in each table
};

}  // namespace nnproof

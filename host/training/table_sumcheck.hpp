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
  explicit HostTableSumcheck(std::vector<std::vector<K>> tables) : t_(std::move(tables)) {}

  // h(X) at X = 0, 2, 3: each table's pair (i, i + half) extended linearly to X.
  std::array<K, 3> round() override {
    const std::size_t half = t_[0].size() / 2;
    const K two = K::from_int(2), three = K::from_int(3);
    return parallel_sum<K, 3>(half, [&](std::size_t i) {
      std::array<K, 3> prod{K::one(), K::one(), K::one()};
      for (const auto& t : t_) {
        const K lo = t[i], step = t[i + half] - t[i];
        prod[0] *= lo;
        prod[1] *= lo + two * step;
        prod[2] *= lo + three * step;
      }
      return prod;
    });
  }
  void fold(K r) override {
    for (auto& t : t_) {
      const std::size_t half = t.size() / 2;
      parallel_for(half, [&](std::size_t i) { t[i] += r * (t[i + half] - t[i]); });
      t.resize(half);
    }
  }
  K final_value() const override { return t_.back()[0]; }
  K value(std::size_t m) const { return t_[m][0]; }

 private:
  std::vector<std::vector<K>> t_;
};

}  // namespace nnproof

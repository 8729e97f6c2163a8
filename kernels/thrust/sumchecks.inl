// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Thrust engine's sum-check provers (kernels/thrust/thrust_engine.inl): the matrix product's
// (degree 2) and the activation's (degree 3), their tables DeviceVectors for the sum-check's whole
// life. A round sends back only its two or three values, and each fold is fused with the next
// round in one transform_reduce whose functor (functors.hpp) writes the folded entries.
//
// Include with NNP_THRUST_NS and the backend's exec() defined, as thrust_engine.inl.
#include <thrust/for_each.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <array>
#include <span>
#include <vector>

#include "kernels/engine/engine.hpp"
#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/functors.hpp"
#include "kernels/thrust/thrust_errors.hpp"

namespace nnproof::NNP_THRUST_NS {

// Sizes `spare` to n entries for a pass to overwrite. Tables shrink by half each round, so from the
// second round on the spare is the table of the round before and shrinking it allocates nothing:
// a sum-check allocates its tables' memory once, not once per round.
template <class K>
void prepare_spare(DeviceVector<K>& spare, Index n) {
  NNP_THRUST(spare.resize(n));
}

// Binds the top variable of t to r, through `spare` (the two then swap).
template <class K>
void fold_table(DeviceVector<K>& t, DeviceVector<K>& spare, K r) {
  const Index half = t.size() / 2;
  prepare_spare(spare, half);
  NNP_THRUST(thrust::for_each(exec(), count(0), count(half), FoldTop<K>{raw(t), raw(spare), half, r}));
  t.swap(spare);
}

template <class K>
std::array<K, 3> to_array(const RoundSums<K>& s) {
  return {s.h[0], s.h[1], s.h[2]};
}

// ---- the sum-check of sum_j A[j] V[j] (degree 2) ----

template <class K>
class ProductSumcheck final : public SumcheckProver<K> {
 public:
  ProductSumcheck(const std::vector<K>& A, const std::vector<K>& V)
      : a_(NNP_THRUST(DeviceVector<K>(A.begin(), A.end()))), v_(NNP_THRUST(DeviceVector<K>(V.begin(), V.end()))) {}

  std::array<K, 3> round() override {
    const Index half = a_.size() / 2;
    return to_array(NNP_THRUST(thrust::transform_reduce(
        exec(), count(0), count(half), ProductRound<K>{raw(a_), raw(v_), half}, zero_sums<K>(), AddSums<K>{})));
  }
  void fold(K r) override {
    fold_table(a_, spare_a_, r);
    fold_table(v_, spare_v_, r);
  }
  std::array<K, 3> fold_and_round(K r) override {
    const Index q = a_.size() / 4;
    prepare_spare(spare_a_, 2 * q);
    prepare_spare(spare_v_, 2 * q);
    auto h = NNP_THRUST(thrust::transform_reduce(
        exec(), count(0), count(q), ProductFoldRound<K>{raw(a_), raw(v_), raw(spare_a_), raw(spare_v_), q, r},
        zero_sums<K>(), AddSums<K>{}));
    a_.swap(spare_a_);
    v_.swap(spare_v_);
    return to_array(h);
  }
  K final_value() const override { return NNP_THRUST(K(v_[0])); }

 private:
  DeviceVector<K> a_, v_, spare_a_, spare_v_;
};

// ---- the sum-check of sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2 (degree 3), rows bound first ----
//
// The eq factor is kept split, a row table es (eq(s, .), folded with the rows) and a column table
// er (eq(r, .)), so no table of Z's size but Z itself is ever built. While rows remain, pair
// (i, i + half) of Z is rows j and j + rows/2 of column k; after the last row is bound, es is one
// value and the pairs run along the columns.

template <class Cfg>
class SquareSumcheck final : public SumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  // z: the rows x cols table Z in the base field, already on the device.
  SquareSumcheck(const DeviceVector<F>& z, Index rows, Index cols, std::span<const K> s, std::span<const K> r)
      : rows_(rows),
        cols_(cols),
        es_(NNP_THRUST(DeviceVector<K>(eq_table<K>(s)))),
        er_(NNP_THRUST(DeviceVector<K>(eq_table<K>(r)))),
        z_(NNP_THRUST(DeviceVector<K>(z.size()))) {
    NNP_THRUST(thrust::transform(exec(), z.begin(), z.end(), z_.begin(), LiftToK<F, K>{}));
  }

  std::array<K, 3> round() override {
    const Index half = z_.size() / 2;
    return to_array(NNP_THRUST(thrust::transform_reduce(
        exec(), count(0), count(half), SquareRound<K>{shape(), raw(z_), half}, zero_sums<K>(), AddSums<K>{})));
  }
  void fold(K r) override {
    fold_eq(r);
    fold_table(z_, spare_z_, r);
  }
  std::array<K, 3> fold_and_round(K r) override {
    fold_eq(r);
    const Index q = z_.size() / 4;
    prepare_spare(spare_z_, 2 * q);
    auto h = NNP_THRUST(thrust::transform_reduce(exec(), count(0), count(q),
                                                 SquareFoldRound<K>{shape(), raw(z_), raw(spare_z_), q, r},
                                                 zero_sums<K>(), AddSums<K>{}));
    z_.swap(spare_z_);
    return to_array(h);
  }
  K final_value() const override { return NNP_THRUST(K(z_[0])); }

 private:
  SquareShape<K> shape() const { return {raw(es_), raw(er_), rows_, cols_}; }
  // Binds the top variable of the eq factor: a row while rows remain, then a column.
  void fold_eq(K r) {
    if (rows_ > 1) {
      fold_table(es_, spare_e_, r);
      rows_ /= 2;
    } else {
      fold_table(er_, spare_e_, r);
      cols_ /= 2;
    }
  }

  Index rows_, cols_;
  DeviceVector<K> es_, er_, z_, spare_z_, spare_e_;
};

}  // namespace nnproof::NNP_THRUST_NS

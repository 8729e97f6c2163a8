// SPDX-License-Identifier: Apache-2.0
#pragma once
// MLEs the verifiers compute themselves from public tables: the input and the claimed outputs
// (row per sample), claimed gradient matrices, biases.
#include <array>
#include <span>
#include <vector>

#include "core/lazy.hpp"
#include "verifier/model.hpp"
#include "verifier/parallel.hpp"
#include "verifier/row_dots.hpp"

namespace nnproof {

// M~(x_rows, y_cols) of a b x n matrix stored row per sample (sample k = column k of the protocol's
// n x b matrix): sum_k eq_r[k] sum_j eq_s[j] M[k][j].
template <class K, class F>
K sample_major_mle(const std::vector<F>& m, std::size_t batch, std::size_t n, std::span<const K> eq_s,
                   std::span<const K> eq_r) {
  if constexpr (HasRowDot<K>) {  // F_{p^2} and m127: the row dots' AVX-512 kernels (row_dots.hpp)
    const ColumnWeights<K> w(eq_s.first(n));
    return parallel_sum<K, 1>(
        batch, [&](std::size_t k) { return std::array<K, 1>{eq_r[k] * row_dot<K>(m.data() + k * n, w)}; })[0];
  } else {
    return parallel_sum<K, 1>(batch, [&](std::size_t k) {
      LazyDot<K, F> row;
      for (std::size_t j = 0; j < n; ++j) row.add(eq_s[j], m[k * n + j]);
      return std::array<K, 1>{eq_r[k] * row.result()};
    })[0];
  }
}

// B~(q) of a layer's integer bias.
template <class K>
K bias_mle(const QuantizedLayer& layer, std::span<const K> eq_q) {
  using F = base_field_t<K>;
  K acc = K::zero();
  for (std::size_t a = 0; a < layer.rows; ++a) acc += mul_base(eq_q[a], F::from_i128(layer.bias[a]));
  return acc;
}

// V~(q) = sum_a eq_q[a] v[a] of a vector of field elements.
template <class K, class F>
K vector_mle(const std::vector<F>& v, std::span<const K> eq_q) {
  K acc = K::zero();
  for (std::size_t a = 0; a < v.size(); ++a) acc += mul_base(eq_q[a], v[a]);
  return acc;
}

}  // namespace nnproof

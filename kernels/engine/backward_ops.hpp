// SPDX-License-Identifier: Apache-2.0
#pragma once
// The backward pass's bulk operations written plainly (TRAINING.md section 2): exact field
// arithmetic on host tables, the defaults of Engine's training operations. Sequential, like the
// reference engine they serve as: engines that need speed override them.
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "kernels/engine/structured_backward.hpp"
#include "kernels/engine/table.hpp"

namespace nnproof::backward_ops {

template <class T>
void require_host(const Table2D<T>& t, const char* what) {
  if (!t.on_host()) throw std::logic_error(std::string(what) + ": the table is not on the host (call to_host first)");
}

// E = W^T D: E[j][k] = sum_a W[a][j] D[a][k]; a structured layer's through its ops' transposes.
template <class F>
Table2D<F> transpose_product(const FieldLayer<F>& layer, const Table2D<F>& D) {
  require_host(D, "transpose_product");
  if (layer.q->structured())
    return structured_backward::transpose_product(*layer.q, D, structured_backward::Sequential{});
  Table2D<F> E(padded(layer.cols()), D.cols);
  for (std::size_t a = 0; a < layer.rows(); ++a)
    for (std::size_t j = 0; j < layer.cols(); ++j) {
      const std::int64_t w = layer.q->weights[a * layer.cols() + j];
      if (w == 0) continue;
      const F wf = F::from_int(w);
      for (std::size_t k = 0; k < D.cols; ++k) E.at(j, k) += wf * D.at(a, k);
    }
  return E;
}

template <class F>
Table2D<F> double_hadamard(const Table2D<F>& Z, const Table2D<F>& E) {
  require_host(Z, "double_hadamard");
  require_host(E, "double_hadamard");
  if (Z.rows != E.rows || Z.cols != E.cols) throw std::logic_error("double_hadamard: shapes differ");
  Table2D<F> D(Z.rows, Z.cols);
  for (std::size_t i = 0; i < D.data.size(); ++i) {
    const F p = Z.data[i] * E.data[i];
    D.data[i] = p + p;
  }
  return D;
}

template <class F>
std::vector<F> batch_outer_product(const Table2D<F>& D, const Table2D<F>& Y, std::size_t rows, std::size_t cols) {
  require_host(D, "batch_outer_product");
  require_host(Y, "batch_outer_product");
  if (D.cols != Y.cols) throw std::logic_error("batch_outer_product: batch sizes differ");
  std::vector<F> G(rows * cols, F::zero());
  for (std::size_t a = 0; a < rows; ++a)
    for (std::size_t j = 0; j < cols; ++j) {
      F acc = F::zero();
      for (std::size_t k = 0; k < D.cols; ++k) acc += D.at(a, k) * Y.at(j, k);
      G[a * cols + j] = acc;
    }
  return G;
}

// A structured layer's gradient with respect to its trained ops' weights (parameters.hpp's order).
template <class F>
std::vector<F> structured_gradients(const FieldLayer<F>& layer, const Table2D<F>& D, const Table2D<F>& Y) {
  require_host(D, "structured_gradients");
  require_host(Y, "structured_gradients");
  if (D.cols != Y.cols) throw std::logic_error("structured_gradients: batch sizes differ");
  return structured_backward::parameter_gradients(*layer.q, D, Y, structured_backward::Sequential{});
}

template <class F>
std::vector<F> batch_row_sums(const Table2D<F>& D, std::size_t rows) {
  require_host(D, "batch_row_sums");
  std::vector<F> g(rows, F::zero());
  for (std::size_t a = 0; a < rows; ++a)
    for (std::size_t k = 0; k < D.cols; ++k) g[a] += D.at(a, k);
  return g;
}

template <class K, class F>
std::vector<K> row_weighted_sum(const Table2D<F>& T, std::span<const K> eq) {
  require_host(T, "row_weighted_sum");
  std::vector<K> P(T.cols, K::zero());
  for (std::size_t a = 0; a < T.rows; ++a) {
    if (eq[a] == K::zero()) continue;
    for (std::size_t k = 0; k < T.cols; ++k) P[k] += mul_base(eq[a], T.at(a, k));
  }
  return P;
}

}  // namespace nnproof::backward_ops

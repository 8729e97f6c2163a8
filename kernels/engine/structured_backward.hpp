// SPDX-License-Identifier: Apache-2.0
#pragma once
// Training's backward pass through a structured layer (convolutions, pools, chains; TRAINING.md
// section 2), exact in the field and shared by every engine: E = W^T D through the chain's
// transposes (a transposed convolution, as row_combine's), and the gradient with respect to each
// trained op's own weights (verifier/training/parameters.hpp): for a convolution
//   dL/dK[oc][ic][kh][kw] = sum_k sum_(oh, ow) V[oc, oh, ow][k] U[ic, s oh + kh - pad, s ow + kw - pad][k]
// with V the layer's D pushed back to the op's output and U the layer's input pushed forward to
// the op's input. Work is O(nnz) per sample, like the forward pass. `each(n, fn)` runs fn(0..n-1),
// in any order and on any threads: every sum is exact, so the bits do not depend on it.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "core/fields.hpp"
#include "kernels/engine/table.hpp"
#include "verifier/linear_op.hpp"
#include "verifier/training/parameters.hpp"

namespace nnproof::structured_backward {

// fn(in_index, weight_index) for every weight of row `out` of the op's matrix (zeros included).
template <class Fn>
void for_each_use(const LinearOp& op, std::size_t out, Fn&& fn) {
  if (op.kind == LinearOp::Kind::dense) {
    for (std::size_t j = 0; j < op.cols; ++j) fn(j, out * op.cols + j);
  } else {
    for_each_tap(op.conv, out, fn);
  }
}

template <class F>
std::vector<F> field_weights(const LinearOp& op) {
  std::vector<F> w(op.weights.size());
  for (std::size_t t = 0; t < w.size(); ++t) w[t] = F::from_int(op.weights[t]);
  return w;
}

template <class F>
std::vector<std::vector<F>> chain_weights(const QuantizedLayer& l) {
  std::vector<std::vector<F>> out;
  for (const LinearOp& op : l.ops) out.push_back(field_weights<F>(op));
  return out;
}

// out = O in (in: op.cols entries).
template <class F>
std::vector<F> apply(const LinearOp& op, const std::vector<F>& w, const std::vector<F>& in) {
  std::vector<F> out(op.rows, F::zero());
  for (std::size_t a = 0; a < op.rows; ++a) {
    F acc = F::zero();
    for_each_use(op, a, [&](std::size_t j, std::size_t t) { acc += w[t] * in[j]; });
    out[a] = acc;
  }
  return out;
}

// in = O^T out (out: op.rows entries).
template <class F>
std::vector<F> apply_transpose(const LinearOp& op, const std::vector<F>& w, const std::vector<F>& out) {
  std::vector<F> in(op.cols, F::zero());
  for (std::size_t a = 0; a < op.rows; ++a) {
    if (out[a] == F::zero()) continue;
    for_each_use(op, a, [&](std::size_t j, std::size_t t) { in[j] += w[t] * out[a]; });
  }
  return in;
}

template <class F>
std::vector<F> column(const Table2D<F>& T, std::size_t k, std::size_t n) {
  std::vector<F> v(n);
  for (std::size_t r = 0; r < n; ++r) v[r] = T.at(r, k);
  return v;
}

template <class F>
bool zero_column(const Table2D<F>& T, std::size_t k, std::size_t n) {
  for (std::size_t r = 0; r < n; ++r)
    if (T.at(r, k) != F::zero()) return false;
  return true;
}

// E = W^T D for a structured layer: padded(cols) x D.cols, zero outside the real corner.
template <class F, class Each>
Table2D<F> transpose_product(const QuantizedLayer& l, const Table2D<F>& D, Each&& each) {
  const auto w = chain_weights<F>(l);
  Table2D<F> E(padded(l.cols), D.cols);
  each(D.cols, [&](std::size_t k) {
    if (zero_column(D, k, l.rows)) return;
    std::vector<F> cur = column(D, k, l.rows);
    for (std::size_t i = l.ops.size(); i-- > 0;) cur = apply_transpose(l.ops[i], w[i], cur);
    for (std::size_t j = 0; j < l.cols; ++j) E.at(j, k) = cur[j];
  });
  return E;
}

// One sample's contribution (column k of D and Y) added to G, the trained ops' gradients in chain
// order (offsets[i] where op i's start; unused for pools).
template <class F>
void add_sample_gradient(const QuantizedLayer& l, const std::vector<std::vector<F>>& w,
                         const std::vector<std::size_t>& offsets, const Table2D<F>& D, const Table2D<F>& Y,
                         std::size_t k, std::vector<F>& G) {
  const std::size_t m = l.ops.size();
  std::vector<std::vector<F>> U(m);  // U[i]: op i's input for this sample
  U[0] = column(Y, k, l.cols);
  for (std::size_t i = 1; i < m; ++i) U[i] = apply(l.ops[i - 1], w[i - 1], U[i - 1]);
  std::vector<F> V = column(D, k, l.rows);  // op i's output gradient, from the last op down
  for (std::size_t i = m; i-- > 0;) {
    const LinearOp& op = l.ops[i];
    if (trained(op)) {
      F* g = G.data() + offsets[i];
      for (std::size_t a = 0; a < op.rows; ++a) {
        const F v = V[a];
        if (v == F::zero()) continue;
        for_each_use(op, a, [&](std::size_t j, std::size_t t) { g[t] += v * U[i][j]; });
      }
    }
    if (i > 0) V = apply_transpose(op, w[i], V);
  }
}

// The layer's gradient vector (parameters.hpp's order) summed over every column of D and Y.
template <class F, class Each>
std::vector<F> parameter_gradients(const QuantizedLayer& l, const Table2D<F>& D, const Table2D<F>& Y, Each&& each) {
  const auto w = chain_weights<F>(l);
  std::vector<std::size_t> offsets(l.ops.size(), 0);
  std::size_t total = 0;
  for (std::size_t i = 0; i < l.ops.size(); ++i) {
    offsets[i] = total;
    if (trained(l.ops[i])) total += l.ops[i].weights.size();
  }
  // Columns in a fixed number of slices, each with its own sums, added at the end: the threads
  // never share an accumulator.
  constexpr std::size_t kSlices = 16;
  const std::size_t slices = std::min(kSlices, D.cols == 0 ? std::size_t{1} : D.cols);
  std::vector<std::vector<F>> partial(slices, std::vector<F>(total, F::zero()));
  each(slices, [&](std::size_t s) {
    for (std::size_t k = s; k < D.cols; k += slices)
      if (!zero_column(D, k, l.rows)) add_sample_gradient(l, w, offsets, D, Y, k, partial[s]);
  });
  std::vector<F> G(total, F::zero());
  for (const auto& p : partial)
    for (std::size_t t = 0; t < total; ++t) G[t] += p[t];
  return G;
}

// A sequential `each` (the reference engine's).
struct Sequential {
  template <class Fn>
  void operator()(std::size_t n, Fn&& fn) const {
    for (std::size_t i = 0; i < n; ++i) fn(i);
  }
};

}  // namespace nnproof::structured_backward

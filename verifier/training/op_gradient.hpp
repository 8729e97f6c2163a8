// SPDX-License-Identifier: Apache-2.0
#pragma once
// A structured layer's gradient seeds (docs/TRAINING_PROTOCOL.md, "Structured layers"). With
// W_i = O_m .. O_1 and op t trained, the gradient of op t's weight w is
//   G_t[w] = sum_{a, k} D_i[a][k] (dW_i/dw Y_{i-1})[a][k]
// and dW_i/dw = O_m .. O_{t+1} (dO_t/dw) O_{t-1} .. O_1. Summed against eq(t*, w), the derivative
// becomes the chain with op t's weights replaced by eq(t*, w) (every op is linear in its weights):
//   G_t~(t*) = sum_{a, k} D_i(a, k) (W'_t Y_{i-1})(a, k),  W'_t = O_m .. E_t .. O_1,
//   E_t = op t with weight w := eq(t*, w) (a dense op's entry (a, j) is w = a cols + j; a
//         convolution's taps use its kernel entries, verifier/linear_op.hpp's for_each_tap).
// Both functions below are O(nnz) of the chain, in the model's (dense) feature layout.
#include <cstddef>
#include <span>
#include <vector>

#include "verifier/linear_op.hpp"

namespace nnproof {

// fn(j, w) for every use of op's weight index w by output row `a` (zero weights included).
template <class Fn>
void for_each_weight_use(const LinearOp& op, std::size_t a, Fn&& fn) {
  if (op.kind == LinearOp::Kind::dense) {
    for (std::size_t j = 0; j < op.cols; ++j) fn(j, a * op.cols + j);
  } else {
    for_each_tap(op.conv, a, fn);
  }
}

// out = W'_t x: the chain applied to x (op.cols of the first op entries) with op `replaced`'s
// weights taken from eq_t (replaced = SIZE_MAX: the chain itself). Returns the last op's rows.
template <class K>
std::vector<K> replaced_chain_apply(std::span<const LinearOp> chain, std::size_t replaced, std::span<const K> eq_t,
                                    std::span<const K> x) {
  using F = base_field_t<K>;
  std::vector<K> cur(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(chain.front().cols));
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const LinearOp& op = chain[i];
    std::vector<K> next(op.rows, K::zero());
    for (std::size_t a = 0; a < op.rows; ++a) {
      K acc = K::zero();
      if (i == replaced)
        for_each_weight_use(op, a, [&](std::size_t j, std::size_t w) { acc += eq_t[w] * cur[j]; });
      else
        for_each_entry(op, a, [&](std::size_t j, std::int64_t w) { acc += mul_base(cur[j], F::from_int(w)); });
      next[a] = acc;
    }
    cur = std::move(next);
  }
  return cur;
}

// in = W'_t^T out (the last op's rows entries of `out` are read): the first op's cols entries.
template <class K>
std::vector<K> replaced_chain_transpose_apply(std::span<const LinearOp> chain, std::size_t replaced,
                                              std::span<const K> eq_t, std::span<const K> out) {
  return chain_transpose_walk<K>(
      chain, out, [&](std::size_t i, const LinearOp& op, std::size_t a, const K& c, std::vector<K>& prev) {
        if (i == replaced)
          for_each_weight_use(op, a, [&](std::size_t j, std::size_t w) { prev[j] += c * eq_t[w]; });
        else
          add_transposed_row(op, a, c, prev);
      });
}

}  // namespace nnproof

#pragma once
// Forward pass of a structured layer (convolutions, pooling, chained ops; verifier/linear_op.hpp)
// on the prover's tables: each output feature reads only its kernel taps, so a convolution costs
// O(nnz x batch), never a dense product. Shared by the engines; parallel over output features.
#include <cstddef>
#include <vector>

#include "host/engines/table.hpp"
#include "verifier/linear_op.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// out (op.rows x batch, row-major) = op applied to `in` (op.cols rows with stride `in_stride`).
template <class F>
std::vector<F> apply_op(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch) {
  std::vector<F> out(op.rows * batch, F::zero());
  parallel_for(op.rows, [&](std::size_t a) {
    F* acc = out.data() + a * batch;
    for_each_entry(op, a, [&](std::size_t j, std::int64_t w) {
      const F wf = F::from_int(w);
      const F* x = in + j * in_stride;
      for (std::size_t k = 0; k < batch; ++k) acc[k] += wf * x[k];
    });
  });
  return out;
}

// Z = W Y + B m^T for a structured layer: Z is padded(rows) x Y.cols, zero outside the real entries.
template <class F>
Table2D<F> structured_forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) {
  const auto& ops = layer.q->ops;
  std::vector<F> cur = apply_op(ops.front(), Y.data.data(), Y.cols, batch);
  for (std::size_t i = 1; i < ops.size(); ++i) cur = apply_op(ops[i], cur.data(), batch, batch);
  Table2D<F> Z(padded(layer.rows()), Y.cols);
  parallel_for(layer.rows(), [&](std::size_t a) {
    for (std::size_t k = 0; k < batch; ++k) Z.at(a, k) = cur[a * batch + k] + layer.bias[a];
  });
  return Z;
}

// A[j] = sum_a eq_q[a] W[a][j], padded to padded(cols): a transposed convolution, O(nnz).
template <class K, class F>
std::vector<K> structured_row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  std::vector<K> A = chain_transpose_apply<K>(layer.q->ops, eq_q);
  A.resize(padded(layer.cols()), K::zero());
  return A;
}

}  // namespace nnproof

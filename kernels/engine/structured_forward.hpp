// SPDX-License-Identifier: Apache-2.0
#pragma once
// Forward pass of a structured layer (convolutions, pooling, chained ops; verifier/linear_op.hpp)
// on the prover's tables: each output feature reads only its kernel taps, so a convolution costs
// O(nnz x batch), never a dense product. Shared by the engines; parallel over output features.
#include <cstddef>
#include <vector>

#include "kernels/engine/table.hpp"
#include "verifier/linear_op.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// Exact integer accumulation: each input value is split into 64-bit limbs (one for m61, two for
// m127) and w * limb summed in signed 128 bits, reduced into the field once per output. Exact while
// |w| < 2^31 and a row has fewer than 2^31 taps: 31 + 64 + 31 < 127 bits. Several times faster than
// a field multiply per tap, which matters for m127.
template <class F>
constexpr std::size_t kLimbs64 = F::kBits <= 64 ? 1 : 2;

template <class F>
void accumulate_row_exact(const LinearOp& op, std::size_t a, const F* in, std::size_t in_stride, std::size_t batch,
                          std::vector<i128>& acc, F* out) {
  constexpr std::size_t L = kLimbs64<F>;
  acc.assign(batch * L, 0);
  for_each_entry(op, a, [&](std::size_t j, std::int64_t w) {
    const F* x = in + j * in_stride;
    for (std::size_t k = 0; k < batch; ++k) {
      const u128 v = static_cast<u128>(x[k].v);
      acc[k * L] += static_cast<i128>(w) * static_cast<i128>(static_cast<std::uint64_t>(v));
      if constexpr (L == 2)
        acc[k * L + 1] += static_cast<i128>(w) * static_cast<i128>(static_cast<std::uint64_t>(v >> 64));
    }
  });
  for (std::size_t k = 0; k < batch; ++k) {
    F r = F::from_i128(acc[k * L]);
    if constexpr (L == 2) r += F::from_i128(acc[k * L + 1]) * F::from_i128(i128{1} << 64);
    out[k] = r;
  }
}

// out (op.rows x batch, row-major) = op applied to `in` (op.cols rows with stride `in_stride`).
template <class F>
std::vector<F> apply_op(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch) {
  std::vector<F> out(op.rows * batch, F::zero());
  if (op.weights.width() <= 4 && op.cols < (std::size_t{1} << 31)) {
#pragma omp parallel
    {
      std::vector<i128> acc;  // per thread
#pragma omp for schedule(static)
      for (std::int64_t a = 0; a < static_cast<std::int64_t>(op.rows); ++a)
        accumulate_row_exact(op, static_cast<std::size_t>(a), in, in_stride, batch, acc,
                             out.data() + static_cast<std::size_t>(a) * batch);
    }
    return out;
  }
  parallel_for(op.rows, [&](std::size_t a) {  // int64 weights: a field product per tap
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
// apply(op, in, in_stride) applies one op of the chain to `batch` columns (apply_op, or the cpu
// engine's choice between it and the limb route of structured_limbs.hpp).
template <class F, class Apply>
Table2D<F> structured_forward_by(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch, Apply apply) {
  const auto& ops = layer.q->ops;
  std::vector<F> cur = apply(ops.front(), Y.data.data(), Y.cols);
  for (std::size_t i = 1; i < ops.size(); ++i) cur = apply(ops[i], cur.data(), batch);
  auto Z = Table2D<F>::unwritten(padded(layer.rows()), Y.cols);  // CNN-2-Quad's first is 268 MB (m127)
  parallel_for(layer.rows(), [&](std::size_t a) {
    for (std::size_t k = 0; k < batch; ++k) Z.at(a, k) = cur[a * batch + k] + layer.bias[a];
  });
  zero_padding(Z, layer.rows(), batch);
  return Z;
}

// The same by apply_op alone (the reference engine's route).
template <class F>
Table2D<F> structured_forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) {
  return structured_forward_by(layer, Y, batch, [batch](const LinearOp& op, const F* in, std::size_t stride) {
    return apply_op(op, in, stride, batch);
  });
}

// A[j] = sum_a eq_q[a] W[a][j], padded to padded(cols): a transposed convolution, O(nnz).
template <class K, class F>
std::vector<K> structured_row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  std::vector<K> A = chain_transpose_apply<K>(layer.q->ops, eq_q);
  A.resize(padded(layer.cols()), K::zero());
  return A;
}

}  // namespace nnproof

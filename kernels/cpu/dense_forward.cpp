// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/dense_forward.hpp"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/lazy.hpp"
#include "kernels/cpu/int8_limbs.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {
namespace {

template <class F>
u128 raw_value(F x) {
  return static_cast<u128>(x.v);
}

template <class F>
F pow2(std::size_t e) {
  F two = F::one() + F::one();
  return two.pow(e);
}

}  // namespace

template <class F>
Table2D<F> CpuDenseForward<F>::forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) {
  if (takes_int8_route(*layer.q)) {
    auto Z = Table2D<F>::unwritten(padded(layer.rows()), Y.cols);
    forward_int8(layer, Y, batch, Z);
    zero_padding(Z, layer.rows(), batch);
    return Z;
  }
  Table2D<F> Z(padded(layer.rows()), Y.cols);
  const LayerGemmPlan gemm = plan_layer(*layer.q, F::kBits);
  if (gemm.plan.limb_bits == 0)
    forward_direct(layer, Y, batch, Z);
  else
    forward_limbs(layer, gemm, Y, batch, Z);
  return Z;
}

template <class F>
std::size_t CpuDenseForward<F>::int8_scratch_bytes(const QuantizedLayer& q, std::size_t batch) {
  constexpr std::size_t L = (F::kBits + 7) / 8;
  return L * std::min(batch, kInt8ColumnBlock) * (q.cols * sizeof(std::int8_t) + q.rows * sizeof(std::int32_t));
}

template <class F>
std::size_t CpuDenseForward<F>::dgemm_scratch_bytes(const QuantizedLayer& q, std::size_t batch, const LimbPlan& plan) {
  if (plan.limb_bits == 0) return 0;  // forward_direct
  return (q.rows * q.cols + (q.cols + q.rows) * plan.limbs * batch) * sizeof(double);
}

template <class F>
std::function<std::size_t(const QuantizedLayer&, std::size_t)> CpuDenseForward<F>::scratch_bytes_planned() {
  auto plans = std::make_shared<std::map<const QuantizedLayer*, LimbPlan>>();
  return [plans](const QuantizedLayer& q, std::size_t batch) {
    if (takes_int8_route(q)) return int8_scratch_bytes(q, batch);
    auto it = plans->find(&q);
    if (it == plans->end()) it = plans->emplace(&q, plan_layer_limbs(q, F::kBits)).first;
    return dgemm_scratch_bytes(q, batch, it->second);
  };
}

template <class F>
bool CpuDenseForward<F>::takes_int8_route(const QuantizedLayer& q) {
  return q.weights.int8_data() && int8_byte_sums_exact(q.cols) && int8_limb_gemm_available();
}

template <class F>
void CpuDenseForward<F>::forward_limbs(const FieldLayer<F>& layer, const LayerGemmPlan& gemm, const Table2D<F>& Y,
                                       std::size_t batch, Table2D<F>& Z) {
  const std::size_t rows = layer.rows(), inner = layer.cols(), L = gemm.plan.limbs, c = gemm.plan.limb_bits;
  const std::size_t ncols = L * batch;
  // Limb matrix: inner x (L * batch), block l holds bits [c l, c (l + 1)) of Y's real columns.
  std::vector<double> limbs(inner * ncols);
  const u128 mask = (u128{1} << c) - 1;
  parallel_for(inner, [&](std::size_t j) {
    for (std::size_t k = 0; k < batch; ++k) {
      u128 y = raw_value(Y.at(j, k));
      for (std::size_t l = 0; l < L; ++l)
        limbs[j * ncols + l * batch + k] = static_cast<double>(static_cast<std::uint64_t>((y >> (c * l)) & mask));
    }
  });
  std::vector<double> G(rows * ncols);
  dgemm_rowmajor(rows, inner, ncols, gemm.weights.data(), limbs.data(), G.data());
  // Z = sum_l 2^(c l) G_l + bias, each G_l an exact integer below 2^53 in magnitude.
  std::vector<F> shift(L);
  for (std::size_t l = 0; l < L; ++l) shift[l] = pow2<F>(c * l);
  parallel_for(rows, [&](std::size_t a) {
    const double* g = G.data() + a * ncols;
    for (std::size_t k = 0; k < batch; ++k) {
      F acc = layer.bias[a] + F::from_int(static_cast<std::int64_t>(g[k]));
      for (std::size_t l = 1; l < L; ++l) acc += F::from_int(static_cast<std::int64_t>(g[l * batch + k])) * shift[l];
      Z.at(a, k) = acc;
    }
  });
}

// int8 weights: the input's 8-bit limbs (8 for m61, 16 for m127) side by side, stored as
// limb - 128, a oneDNN int8 matmul per block of columns, then
//   Z = bias + sum_l 2^(8 l) (G'_l + 128 r_a),  r_a = sum_j W[a][j],
// the offset folded into the bias once per row (split and recombination: int8_limbs.cpp).
// Measured faster than the two-limb DGEMM (docs/PERFORMANCE.md).
template <class F>
void CpuDenseForward<F>::forward_int8(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch,
                                      Table2D<F>& Z) {
  const std::size_t rows = layer.rows(), inner = layer.cols();
  constexpr std::size_t L = (F::kBits + 7) / 8;
  F limb_weights = F::zero();  // sum_l 2^(8 l)
  for (std::size_t l = 0; l < L; ++l) limb_weights += pow2<F>(8 * l);
  Int8WeightsMatmul& matmul = matmuls_.get(layer.q->weights, rows, inner);
  std::vector<F> bias(rows);
  for (std::size_t a = 0; a < rows; ++a)
    bias[a] = layer.bias[a] + F::from_int(128 * matmul.row_sums()[a]) * limb_weights;
  // Blocks of columns keep the limb and product matrices cache-sized: at batch 1024 and beyond a
  // single GEMM over all columns ran 1.5x slower per sample.
  for (std::size_t k0 = 0; k0 < batch; k0 += kInt8ColumnBlock)
    forward_int8_block(layer, matmul, bias, Y, k0, std::min(batch, k0 + kInt8ColumnBlock), Z);
}

// Columns [k0, k1) of Z; `bias` has the limbs' offset folded in. The product is computed
// transposed, G^T = L'^T W^T (limbs as the matmul's left operand, read in place; W^T repacked
// once per layer, matmuls_), so both element-wise passes transpose: the
// split in blocks of 64 rows x 8 columns of Y, the recombination in tiles of kRowTile rows x
// kColTile columns of Z (32 or 64 KiB, in L2).
template <class F>
void CpuDenseForward<F>::forward_int8_block(const FieldLayer<F>& layer, Int8WeightsMatmul& matmul,
                                            const std::vector<F>& bias, const Table2D<F>& Y, std::size_t k0,
                                            std::size_t k1, Table2D<F>& Z) {
  constexpr std::size_t L = (F::kBits + 7) / 8, kRowTile = 256, kColTile = 16;
  static_assert(L == (std::is_same_v<F, Fp61> ? kM61Limbs : kM127Limbs));
  const std::size_t rows = layer.rows(), inner = layer.cols(), width = k1 - k0, ncols = L * width;
  // Both buffers are written in full before they are read: no zero fill, and kept across blocks
  // and layers, so that their 20 MiB are not mapped afresh (page by page) for each block.
  limb_scratch_.resize(ncols * inner);
  product_scratch_.resize(ncols * rows);
  std::int8_t* limbs_t = limb_scratch_.data();
  std::int32_t* G_t = product_scratch_.data();
  parallel_for((inner + kRowTile - 1) / kRowTile, [&](std::size_t t) {
    split_limbs_transposed(&Y.at(0, k0), Y.cols, t * kRowTile, std::min(inner, (t + 1) * kRowTile), width, inner,
                           limbs_t);
  });
  matmul.run(ncols, limbs_t, G_t);
  parallel_for((rows + kRowTile - 1) / kRowTile, [&](std::size_t t) {
    const std::size_t a0 = t * kRowTile, n = std::min(rows, a0 + kRowTile) - a0;
    std::array<F, kRowTile * kColTile> tile;  // tile[k kRowTile + a]: Z[a0 + a][k0 + kt + k]
    for (std::size_t kt = 0; kt < width; kt += kColTile) {
      const std::size_t m = std::min(width, kt + kColTile) - kt;
      for (std::size_t k = 0; k < m; ++k)
        recombine_limbs(G_t + (kt + k) * rows + a0, width * rows, n, &bias[a0], &tile[k * kRowTile]);
      for (std::size_t a = 0; a < n; ++a)
        for (std::size_t k = 0; k < m; ++k) Z.at(a0 + a, k0 + kt + k) = tile[k * kRowTile + a];
    }
  });
}

template <class F>
void CpuDenseForward<F>::forward_direct(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch,
                                        Table2D<F>& Z) {
  const std::size_t cols = layer.cols();
  parallel_for(layer.rows(), [&](std::size_t a) {
    for (std::size_t k = 0; k < batch; ++k) Z.at(a, k) = layer.bias[a];
    for (std::size_t j = 0; j < cols; ++j) {
      const std::int64_t w = layer.q->weights[a * cols + j];
      if (w == 0) continue;
      const F wf = F::from_int(w);
      for (std::size_t k = 0; k < batch; ++k) Z.at(a, k) += wf * Y.at(j, k);
    }
  });
}

template class CpuDenseForward<Fp61>;
template class CpuDenseForward<Fp127>;

}  // namespace nnproof

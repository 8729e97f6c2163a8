// SPDX-License-Identifier: Apache-2.0
#include "verifier/separable_dense.hpp"

#include <array>

#include "verifier/int8_chunk_dot.hpp"
#include "verifier/parallel.hpp"
#include "verifier/row_dots.hpp"
#include "verifier/weight_routes.hpp"

namespace nnproof {

bool pooled_dense_applies(std::span<const LinearOp> chain) {
  if (chain.size() < 2 || chain.back().kind != LinearOp::Kind::dense) return false;
  const std::span<const LinearOp> prefix = chain.first(chain.size() - 1);
  for (std::size_t k = 0; k < prefix.size(); ++k) {
    if (prefix[k].kind != LinearOp::Kind::conv || !kernel_constant_over_window(prefix[k])) return false;
    if (k == 0) continue;
    const ConvShape &a = prefix[k - 1].conv, &b = prefix[k].conv;
    if (a.out_channels != b.in_channels || a.out_h() != b.in_h || a.out_w() != b.in_w) return false;
  }
  const LinearOp& dense = chain.back();
  return prefix.front().conv.pow2_in && dense.cols == prefix.back().conv.out_size();
}

template <class K>
K dense_rows_mle(const WeightMatrix& d, std::size_t rows, std::size_t cols, std::span<const K> eq_q,
                 std::span<const K> v) {
  using F = base_field_t<K>;
  switch (weight_route<K>(d, cols)) {
    case WeightRoute::int8_bytes: {
      const std::int8_t* w = d.int8_data();
      const Int8ChunkDot<K> chunks(v.first(cols));
      return parallel_sum<K, 1>(
          rows, [&](std::size_t a) { return std::array<K, 1>{eq_q[a] * chunks.dot(w + a * cols, cols)}; })[0];
    }
    case WeightRoute::exact_ints: {
      const std::vector<std::int64_t> pieces = exact_int_pieces<K>(v.first(cols));
      return d.visit([&](const auto* w) {
        return parallel_sum<K, 1>(rows, [&](std::size_t a) {
          return std::array<K, 1>{eq_q[a] * exact_int_dot<K>(w + a * cols, pieces.data(), cols)};
        })[0];
      });
    }
    case WeightRoute::field_products:
      break;
  }
  K acc = K::zero();
  for (std::size_t a = 0; a < rows; ++a) {
    K row = K::zero();
    for (std::size_t j = 0; j < cols; ++j) {
      const std::int64_t w = d[a * cols + j];
      if (w != 0) row += mul_base(v[j], F::from_int(w));
    }
    acc += eq_q[a] * row;
  }
  return acc;
}

std::optional<std::vector<i128>> channel_bias(const ConvShape& out, std::span<const i128> bias) {
  if (!out.pow2_out || bias.size() != out.out_size()) return std::nullopt;
  const std::size_t rows = out.out_rows(), cols = out.out_cols(), h_n = out.out_h(), w_n = out.out_w();
  std::vector<i128> b(out.out_channels);
  for (std::size_t c = 0; c < out.out_channels; ++c) {
    const i128* plane = bias.data() + c * rows * cols;
    b[c] = plane[0];
    for (std::size_t h = 0; h < rows; ++h)
      for (std::size_t w = 0; w < cols; ++w)
        if (plane[h * cols + w] != (h < h_n && w < w_n ? b[c] : 0)) return std::nullopt;
  }
  return b;
}

#define NNP_INSTANTIATE(K) \
  template K dense_rows_mle(const WeightMatrix&, std::size_t, std::size_t, std::span<const K>, std::span<const K>);
NNP_INSTANTIATE(Fp61x2)
NNP_INSTANTIATE(Fp61)
NNP_INSTANTIATE(Fp127)
#undef NNP_INSTANTIATE

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// Two more factorings of a structured layer's public MLEs, beside separable_conv.hpp, for the layers
// that route leaves on the O(positions) path:
//
// 1. W~(q, s) of pools (or any ops whose kernel is constant over its window) followed by one dense
//    op, as a CNN's last layer is (2x2 sum pool, then Gemm). With W = D P,
//      W~(q, s) = sum_a eq(q, a) sum_j D[a][j] v[j],   v = P e,  e = eq(s, .),
//    and e = e_c (x) e_h (x) e_w over a pow2 input layout. A window-constant op maps such a product
//    to a product: channels by k[oc][ic] (the window's one weight), rows by the window's row sums,
//    columns likewise. So v costs O(features of D's input) and no eq(s, .) table of the pool's
//    (4x larger) input is built; D's rows are then dotted with v by the dense routes.
//
// 2. B~(q) of a convolution layer's bias: one value per output channel at every real position,
//    zero at the layout's padding (what ONNX's per-channel bias gives, ProofLayout pads), so
//      B~(q) = (sum_c b_c eq(q_c, c)) (sum_{h < H} eq(q_h, h)) (sum_{w < W} eq(q_w, w)),
//    O(C + H' + W') instead of an eq(q, .) table over every position. Any other bias keeps the
//    direct sum (the check is one pass of integer compares).
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "core/polynomial.hpp"
#include "verifier/linear_op.hpp"
#include "verifier/separable_conv.hpp"

namespace nnproof {

// Whether pooled_dense_weight_mle applies: a chain of one or more window-constant convolutions
// (kernel_constant_over_window) whose first input is a pow2 layout, then exactly one dense op
// reading the last one's output layout.
bool pooled_dense_applies(std::span<const LinearOp> chain);

// v = P e for the chain's window-constant prefix P (all ops but the last) and e = eq(s, .) over the
// first op's pow2 input layout; v is laid out as the last prefix op's output (padding zero).
template <class K>
std::vector<K> pooled_features(std::span<const LinearOp> prefix, std::span<const K> s) {
  using F = base_field_t<K>;
  const ConvShape& first = prefix.front().conv;
  const std::size_t lw = ceil_log2(first.in_cols()), lh = ceil_log2(first.in_rows());
  const std::vector<K> ew = eq_table<K>(s.first(lw)), eh = eq_table<K>(s.subspan(lw, lh)),
                       ec = eq_table<K>(s.subspan(lw + lh));
  // The real rows, columns and channels of the current image.
  std::vector<K> R(eh.begin(), eh.begin() + static_cast<std::ptrdiff_t>(first.in_h));
  std::vector<K> C(ew.begin(), ew.begin() + static_cast<std::ptrdiff_t>(first.in_w));
  std::vector<K> ch(ec.begin(), ec.begin() + static_cast<std::ptrdiff_t>(first.in_channels));
  // out[x] = sum over the window's taps that land in the image of in[stride x + k - pad].
  auto forward_axis = [](const std::vector<K>& in, std::size_t out_n, std::size_t kernel, std::size_t stride,
                         std::size_t pad) {
    std::vector<K> out(out_n, K::zero());
    for (std::size_t x = 0; x < out_n; ++x)
      for (std::size_t k = 0; k < kernel; ++k) {
        const std::size_t i = x * stride + k;  // shifted by pad
        if (i >= pad && i < pad + in.size()) out[x] += in[i - pad];
      }
    return out;
  };
  for (const LinearOp& op : prefix) {
    const ConvShape& c = op.conv;
    const std::size_t gin = c.group_in(), per_group = c.out_channels / c.groups, window = c.kernel_h * c.kernel_w;
    std::vector<K> next(c.out_channels, K::zero());
    op.weights.visit([&](const auto* w) {
      for (std::size_t oc = 0; oc < c.out_channels; ++oc)
        for (std::size_t cl = 0; cl < gin; ++cl) {
          const std::int64_t wt = w[(oc * gin + cl) * window];  // the window's one weight
          if (wt != 0) next[oc] += mul_base(ch[oc / per_group * gin + cl], F::from_int(wt));
        }
    });
    ch = std::move(next);
    R = forward_axis(R, c.out_h(), c.kernel_h, c.stride_h, c.pad_top);
    C = forward_axis(C, c.out_w(), c.kernel_w, c.stride_w, c.pad_left);
  }
  const ConvShape& last = prefix.back().conv;
  const std::size_t rows = last.out_rows(), cols = last.out_cols();
  std::vector<K> v(last.out_size(), K::zero());
  for (std::size_t c = 0; c < ch.size(); ++c)
    for (std::size_t h = 0; h < R.size(); ++h) {
      const K ch_r = ch[c] * R[h];
      K* row = v.data() + (c * rows + h) * cols;
      for (std::size_t w = 0; w < C.size(); ++w) row[w] = ch_r * C[w];
    }
  return v;
}

// sum_a eq_q[a] sum_j D[a][j] v[j] for a rows x cols integer matrix D (verifier.cpp: the dense
// routes of weight_routes.hpp).
template <class K>
K dense_rows_mle(const WeightMatrix& d, std::size_t rows, std::size_t cols, std::span<const K> eq_q,
                 std::span<const K> v);

// W~(q, s) for a chain pooled_dense_applies accepts; q and s are the points, bit 0 first.
template <class K>
K pooled_dense_weight_mle(std::span<const LinearOp> chain, std::span<const K> q, std::span<const K> s) {
  const LinearOp& dense = chain.back();
  const std::vector<K> v = pooled_features<K>(chain.first(chain.size() - 1), s);
  const std::vector<K> eq_q = eq_table<K>(q);
  return dense_rows_mle<K>(dense.weights, dense.rows, dense.cols, eq_q, v);
}

// The per-channel values of a bias of the last op's pow2 output layout (zero at its padding), or
// nullopt when the bias is not so.
std::optional<std::vector<i128>> channel_bias(const ConvShape& out, std::span<const i128> bias);

// B~(q) of a per-channel bias b over `out`'s pow2 output layout (channel_bias); q bit 0 first.
template <class K>
K channel_bias_mle(const ConvShape& out, const std::vector<i128>& b, std::span<const K> q) {
  using F = base_field_t<K>;
  const std::size_t lw = ceil_log2(out.out_cols()), lh = ceil_log2(out.out_rows());
  const std::vector<K> qw = eq_table<K>(q.first(lw)), qh = eq_table<K>(q.subspan(lw, lh)),
                       qc = eq_table<K>(q.subspan(lw + lh));
  K sh = K::zero(), sw = K::zero(), acc = K::zero();
  for (std::size_t h = 0; h < out.out_h(); ++h) sh += qh[h];
  for (std::size_t w = 0; w < out.out_w(); ++w) sw += qw[w];
  for (std::size_t c = 0; c < b.size(); ++c)
    if (b[c] != 0) acc += mul_base(qc[c], F::from_i128(b[c]));
  return acc * sh * sw;
}

}  // namespace nnproof

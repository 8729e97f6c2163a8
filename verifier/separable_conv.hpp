// SPDX-License-Identifier: Apache-2.0
#pragma once
// W~(q, s) of a chain of convolutions and pools whose outer images are in pow2 layouts
// (verifier/image_layout.hpp), by the factoring of docs/IMAGE_LAYOUT.md. With the index's channel,
// row and column bits separate, eq(q, .) = a(c) b(h) d(w), and the transposed convolution of such a
// product is a sum of products, one per kernel row and column:
//   W~(q, s) = sum_{oc, ic, kh, kw} K[oc][ic][kh][kw] a(oc) e_c(ic) S_h(kh) S_w(kw),
//   S_h(kh) = sum_h b(h) e_h(stride h + kh - pad),
// with e = eq(s, .) factored the same way. The state below is that sum of products: U row vectors,
// V column vectors and U x V channel vectors. A general kernel multiplies U by kernel_h and V by
// kernel_w; a kernel constant over its window (pools) keeps U and V (its row and column sums fold
// into the vectors), so a pool next to a convolution costs little. The work is O(U V x kernel
// entries + U kernel_h H + V kernel_w W + U V C) per op; separable_cost says it before any is done.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/lazy.hpp"
#include "core/polynomial.hpp"
#include "verifier/linear_op.hpp"

namespace nnproof {

// Whether each (out channel, in channel) of the kernel has one weight over its whole window.
bool kernel_constant_over_window(const LinearOp& op);

// The multiplications separable_weight_mle would do for the chain, or nullopt when it does not
// apply: an op is not a convolution, the chain's first input or last output is not a pow2 layout,
// or two ops disagree on the image between them.
std::optional<std::size_t> separable_cost(std::span<const LinearOp> chain);

// The row (or column) part of one op transposed: out[(u, k)] (or out[u] when `fold`, summed over k)
// over in_n entries from cur[u] over out_n entries: out(stride x + k - pad) += cur(x).
template <class K>
std::vector<std::vector<K>> transpose_axis(const std::vector<std::vector<K>>& cur, std::size_t in_n, std::size_t out_n,
                                           std::size_t kernel, std::size_t stride, std::size_t pad, bool fold) {
  std::vector<std::vector<K>> out(fold ? cur.size() : cur.size() * kernel, std::vector<K>(in_n, K::zero()));
  for (std::size_t u = 0; u < cur.size(); ++u)
    for (std::size_t k = 0; k < kernel; ++k) {
      std::vector<K>& o = out[fold ? u : u * kernel + k];
      for (std::size_t x = 0; x < out_n; ++x) {
        const std::size_t i = x * stride + k;  // shifted by pad
        if (i >= pad && i < pad + in_n) o[i - pad] += cur[u][x];
      }
    }
  return out;
}

// The channel products of one op in separable_weight_mle: for each state (u, kh, v, kw) and input
// channel ic, sum over the out channels oc of ic's group of K[oc][ic][kh][kw] ch[u V + v][oc]
// (kh = kw = 0 only when `fold`). Exact integer sums of the weights times each ch element's pieces
// (ExactIntSums, as the dense routes do), one join per result, where the weights' width allows;
// else one field product per kernel entry and state.
template <class K>
std::vector<std::vector<K>> separable_channel_products(const LinearOp& op, const std::vector<std::vector<K>>& ch,
                                                       std::size_t U, std::size_t V, bool fold) {
  using F = base_field_t<K>;
  using Sums = ExactIntSums<K>;
  constexpr unsigned L = Sums::kCount;
  const ConvShape& c = op.conv;
  const std::size_t kh_n = fold ? 1 : c.kernel_h, kw_n = fold ? 1 : c.kernel_w, states = U * kh_n * V * kw_n;
  const std::size_t gin = c.group_in(), per_group = c.out_channels / c.groups, n_in = c.in_channels;
  std::vector<std::vector<K>> next(states, std::vector<K>(n_in, K::zero()));
  const auto state = [&](std::size_t u, std::size_t kh, std::size_t v, std::size_t kw) {
    return (u * kh_n + kh) * V * kw_n + v * kw_n + kw;
  };
  if (Sums::exact(op.weights.width(), per_group)) {
    std::vector<std::int64_t> pieces(U * V * c.out_channels * L);
    for (std::size_t uv = 0; uv < U * V; ++uv)
      for (std::size_t oc = 0; oc < c.out_channels; ++oc)
        Sums::split(ch[uv][oc], pieces.data() + (uv * c.out_channels + oc) * L);
    std::vector<typename Sums::Acc> acc(states * n_in * L, 0);
    op.weights.visit([&](const auto* w) {
      for (std::size_t oc = 0; oc < c.out_channels; ++oc)
        for (std::size_t cl = 0; cl < gin; ++cl) {
          const std::size_t ic = oc / per_group * gin + cl;
          for (std::size_t kh = 0; kh < kh_n; ++kh)
            for (std::size_t kw = 0; kw < kw_n; ++kw) {
              const auto wt = static_cast<typename Sums::Acc>(
                  static_cast<std::int64_t>(w[((oc * gin + cl) * c.kernel_h + kh) * c.kernel_w + kw]));
              if (wt == 0) continue;
              for (std::size_t u = 0; u < U; ++u)
                for (std::size_t v = 0; v < V; ++v) {
                  typename Sums::Acc* a = acc.data() + (state(u, kh, v, kw) * n_in + ic) * L;
                  const std::int64_t* p = pieces.data() + ((u * V + v) * c.out_channels + oc) * L;
                  for (unsigned l = 0; l < L; ++l) a[l] += wt * p[l];
                }
            }
        }
    });
    for (std::size_t st = 0; st < states; ++st)
      for (std::size_t ic = 0; ic < n_in; ++ic) next[st][ic] = Sums::join(acc.data() + (st * n_in + ic) * L);
    return next;
  }
  op.weights.visit([&](const auto* w) {
    for (std::size_t oc = 0; oc < c.out_channels; ++oc)
      for (std::size_t cl = 0; cl < gin; ++cl) {
        const std::size_t ic = oc / per_group * gin + cl;
        for (std::size_t kh = 0; kh < kh_n; ++kh)
          for (std::size_t kw = 0; kw < kw_n; ++kw) {
            const std::int64_t wt = w[((oc * gin + cl) * c.kernel_h + kh) * c.kernel_w + kw];
            if (wt == 0) continue;
            const F wf = F::from_int(wt);
            for (std::size_t u = 0; u < U; ++u)
              for (std::size_t v = 0; v < V; ++v) next[state(u, kh, v, kw)][ic] += mul_base(ch[u * V + v][oc], wf);
          }
      }
  });
  return next;
}

// W~(q, s) for a chain separable_cost accepts; q and s are the points (not eq tables), bit 0 first.
template <class K>
K separable_weight_mle(std::span<const LinearOp> chain, std::span<const K> q, std::span<const K> s) {
  const ConvShape& last = chain.back().conv;
  const ConvShape& first = chain.front().conv;
  // Split a point into its column, row and channel bits (eq_table's bit 0 is x[0]).
  auto split = [](std::span<const K> x, std::size_t rows, std::size_t cols) {
    const std::size_t lw = ceil_log2(cols), lh = ceil_log2(rows);
    return std::array<std::vector<K>, 3>{eq_table<K>(x.first(lw)), eq_table<K>(x.subspan(lw, lh)),
                                         eq_table<K>(x.subspan(lw + lh))};
  };
  const auto [qw, qh, qc] = split(q, last.out_rows(), last.out_cols());
  const auto [sw, sh, sc] = split(s, first.in_rows(), first.in_cols());
  std::vector<std::vector<K>> R{std::vector<K>(qh.begin(), qh.begin() + static_cast<std::ptrdiff_t>(last.out_h()))};
  std::vector<std::vector<K>> C{std::vector<K>(qw.begin(), qw.begin() + static_cast<std::ptrdiff_t>(last.out_w()))};
  // ch[u * V + v] over the current channels.
  std::vector<std::vector<K>> ch{
      std::vector<K>(qc.begin(), qc.begin() + static_cast<std::ptrdiff_t>(last.out_channels))};
  for (std::size_t i = chain.size(); i-- > 0;) {
    const LinearOp& op = chain[i];
    const ConvShape& c = op.conv;
    const bool fold = kernel_constant_over_window(op);
    std::vector<std::vector<K>> next = separable_channel_products<K>(op, ch, R.size(), C.size(), fold);
    R = transpose_axis(R, c.in_h, c.out_h(), c.kernel_h, c.stride_h, c.pad_top, fold);
    C = transpose_axis(C, c.in_w, c.out_w(), c.kernel_w, c.stride_w, c.pad_left, fold);
    ch = std::move(next);
  }
  // sum_{u, v} <ch[u][v], e_c> <R[u], e_h> <C[v], e_w>.
  auto dot = [](const std::vector<K>& x, const std::vector<K>& e) {
    K acc = K::zero();
    for (std::size_t j = 0; j < x.size(); ++j) acc += x[j] * e[j];
    return acc;
  };
  std::vector<K> rh(R.size()), cw(C.size());
  for (std::size_t u = 0; u < R.size(); ++u) rh[u] = dot(R[u], sh);
  for (std::size_t v = 0; v < C.size(); ++v) cw[v] = dot(C[v], sw);
  K acc = K::zero();
  for (std::size_t u = 0; u < R.size(); ++u)
    for (std::size_t v = 0; v < C.size(); ++v) acc += dot(ch[u * C.size() + v], sc) * rh[u] * cw[v];
  return acc;
}

}  // namespace nnproof

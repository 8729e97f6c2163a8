// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's row_combine for structured layers: A = W^T eq(q, .) through the chain's ops
// (chain_transpose_apply's result, element for element), each convolution or pool applied
// transposed as a gather: input feature j sums w x cur[a] over the taps that read it, so the
// features split between threads with no write conflicts, and the sums are exact integers (each
// element of K cut into 64-bit pieces, w x piece summed in signed 128 bits, reduced once per
// feature) instead of a field product per tap. Dense ops of a chain keep chain_transpose_apply.
#include <cstddef>
#include <span>
#include <vector>

#include "kernels/engine/structured_forward.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// fn(out_index, weight_index) for every tap of convolution c that reads input feature `in`: the
// transpose of for_each_tap.
template <class Fn>
void for_each_tap_reading(const ConvShape& c, std::size_t in, Fn&& fn) {
  // Indices in the shape's layouts (dense, or padded to powers of two: docs/IMAGE_LAYOUT.md); a
  // padding position is read by no tap.
  const std::size_t oh_n = c.out_h(), ow_n = c.out_w(), out_rows = c.out_rows(), out_cols = c.out_cols();
  const std::size_t in_rows = c.in_rows(), in_cols = c.in_cols();
  const std::size_t ci = in / (in_rows * in_cols), ih = in / in_cols % in_rows, iw = in % in_cols;
  if (ih >= c.in_h || iw >= c.in_w) return;
  const std::size_t gin = c.group_in(), gout = c.out_channels / c.groups, group = ci / gin, cl = ci % gin;
  for (std::size_t kh = 0; kh < c.kernel_h; ++kh) {
    const std::size_t y = ih + c.pad_top;  // = oh stride_h + kh
    if (y < kh || (y - kh) % c.stride_h != 0 || (y - kh) / c.stride_h >= oh_n) continue;
    const std::size_t oh = (y - kh) / c.stride_h;
    for (std::size_t kw = 0; kw < c.kernel_w; ++kw) {
      const std::size_t x = iw + c.pad_left;
      if (x < kw || (x - kw) % c.stride_w != 0 || (x - kw) / c.stride_w >= ow_n) continue;
      const std::size_t ow = (x - kw) / c.stride_w;
      for (std::size_t co = group * gout; co < (group + 1) * gout; ++co)
        fn((co * out_rows + oh) * out_cols + ow, ((co * gin + cl) * c.kernel_h + kh) * c.kernel_w + kw);
    }
  }
}

// K's element as 64-bit pieces and back: m127 (two pieces of its 127 bits) and m61's extension
// (one piece per coordinate). Other K: none (the generic route).
template <class K>
struct Pieces64 {
  static constexpr std::size_t kCount = 0;
};
template <>
struct Pieces64<Fp127> {
  static constexpr std::size_t kCount = 2;
  static void split(const Fp127& x, std::uint64_t* p) {
    p[0] = static_cast<std::uint64_t>(x.v), p[1] = static_cast<std::uint64_t>(x.v >> 64);
  }
  static Fp127 join(const i128* s) {
    return Fp127::from_i128(s[0]) + Fp127::from_i128(s[1]) * Fp127::from_u128(u128{1} << 64);
  }
};
template <>
struct Pieces64<Fp61x2> {
  static constexpr std::size_t kCount = 2;
  static void split(const Fp61x2& x, std::uint64_t* p) { p[0] = x.re.v, p[1] = x.im.v; }
  static Fp61x2 join(const i128* s) { return {Fp61::from_i128(s[0]), Fp61::from_i128(s[1])}; }
};

// prev (op.cols entries) = op^T cur for a convolution with weights below 2^31 in magnitude.
template <class K>
std::vector<K> conv_transpose_exact(const LinearOp& op, const std::vector<K>& cur) {
  using P = Pieces64<K>;
  constexpr std::size_t N = P::kCount;
  std::vector<std::uint64_t> pieces(cur.size() * N);  // cut once, read by every tap
  parallel_for(cur.size(), [&](std::size_t a) { P::split(cur[a], &pieces[a * N]); });
  std::vector<K> prev(op.cols);
  op.weights.visit([&](const auto* w) {
    parallel_for(op.cols, [&](std::size_t j) {
      i128 s[N] = {};
      for_each_tap_reading(op.conv, j, [&](std::size_t a, std::size_t t) {
        const i128 wt = static_cast<i128>(w[t]);
        for (std::size_t n = 0; n < N; ++n) s[n] += wt * static_cast<i128>(pieces[a * N + n]);
      });
      prev[j] = P::join(s);
    });
  });
  return prev;
}

// structured_row_combine (same result) with conv_transpose_exact for the convolutions it fits.
template <class K, class F>
std::vector<K> structured_row_combine_cpu(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  const std::span<const LinearOp> ops = layer.q->ops;
  std::vector<K> cur(eq_q.begin(), eq_q.begin() + static_cast<std::ptrdiff_t>(ops.back().rows));
  for (std::size_t i = ops.size(); i-- > 0;) {
    const LinearOp& op = ops[i];
    // Exact while |w| < 2^31 and a feature is read by fewer than 2^31 taps: 31 + 64 + 31 < 127 bits.
    if constexpr (Pieces64<K>::kCount > 0)
      if (op.kind == LinearOp::Kind::conv && op.weights.width() <= 4 &&
          op.conv.kernel_size() < (std::size_t{1} << 31)) {
        cur = conv_transpose_exact(op, cur);
        continue;
      }
    cur = chain_transpose_apply<K>(ops.subspan(i, 1), std::span<const K>(cur));
  }
  cur.resize(padded(layer.cols()), K::zero());
  return cur;
}

}  // namespace nnproof

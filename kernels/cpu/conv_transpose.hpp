// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's row_combine for structured layers: A = W^T eq(q, .) through the chain's ops
// (chain_transpose_apply's result, element for element), each convolution or pool applied
// transposed as a gather: input feature j sums w x cur[a] over the taps that read it, so the
// features split between threads with no write conflicts, and the sums are exact integers (each
// element of K cut into 64-bit pieces, w x piece summed in signed 128 bits, reduced once per
// feature) instead of a field product per tap; a chain's dense ops likewise, by columns.
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/polynomial.hpp"
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

// prev (op.cols entries) = op^T cur for a dense op with weights below 2^31 in magnitude and fewer
// than 2^31 rows (a CNN's last Gemm after its pool): conv_transpose_exact's pieces and signed
// 128-bit sums, by blocks of columns split between threads, each reading the rows in order.
// chain_transpose_apply's field product per weight, on one core, was ~0.5 ms of a CIFAR-size proof.
template <class K>
std::vector<K> dense_transpose_exact(const LinearOp& op, const std::vector<K>& cur) {
  using P = Pieces64<K>;
  constexpr std::size_t N = P::kCount, kBlock = 64;
  std::vector<std::uint64_t> pieces(op.rows * N);
  for (std::size_t a = 0; a < op.rows; ++a) P::split(cur[a], &pieces[a * N]);
  std::vector<K> prev(op.cols);
  op.weights.visit([&](const auto* w) {
    parallel_for((op.cols + kBlock - 1) / kBlock, [&](std::size_t b) {
      const std::size_t j0 = b * kBlock, j1 = std::min(op.cols, j0 + kBlock);
      std::array<i128, kBlock * N> s{};
      for (std::size_t a = 0; a < op.rows; ++a) {
        const std::uint64_t* p = &pieces[a * N];
        const auto* row = w + a * op.cols;
        for (std::size_t j = j0; j < j1; ++j) {
          const i128 wt = static_cast<i128>(row[j]);
          for (std::size_t n = 0; n < N; ++n) s[(j - j0) * N + n] += wt * static_cast<i128>(p[n]);
        }
      }
      for (std::size_t j = j0; j < j1; ++j) prev[j] = P::join(&s[(j - j0) * N]);
    });
  });
  return prev;
}

// prev (op.cols entries) = op^T cur for a sum pool (every kernel entry 1: is_ones_pool): each input
// the sum of the outputs that read it, field additions only, where conv_transpose_exact's pieces,
// 128-bit products and join cost ~0.6 ms for each of CIFAR-size's two pools.
// Windows that tile the image (stride = kernel, no padding: CNNs' 2 x 2 pools) read each input at
// most once: a gather by rows, without for_each_tap_reading's search (its divisions were most of
// the time left).
template <class K>
std::vector<K> pool_transpose(const LinearOp& op, const std::vector<K>& cur) {
  std::vector<K> prev(op.cols, K::zero());
  const ConvShape& c = op.conv;
  if (c.stride_h == c.kernel_h && c.stride_w == c.kernel_w &&
      c.pad_top + c.pad_left + c.pad_bottom + c.pad_right == 0) {
    const std::size_t in_rows = c.in_rows(), in_cols = c.in_cols(), out_rows = c.out_rows(), out_cols = c.out_cols();
    parallel_for(c.in_channels * in_rows, [&](std::size_t r) {
      const std::size_t ci = r / in_rows, ih = r % in_rows, oh = ih / c.kernel_h;
      K* out = prev.data() + r * in_cols;           // zero where no window reads
      if (ih >= c.in_h || oh >= c.out_h()) return;  // a padding row, or past the last window
      const K* from = cur.data() + (ci * out_rows + oh) * out_cols;
      for (std::size_t ow = 0; ow < c.out_w(); ++ow)
        for (std::size_t kw = 0; kw < c.kernel_w; ++kw) out[ow * c.kernel_w + kw] = from[ow];
    });
    return prev;
  }
  parallel_for(op.cols, [&](std::size_t j) {
    K s = K::zero();
    for_each_tap_reading(op.conv, j, [&](std::size_t a, std::size_t) { s += cur[a]; });
    prev[j] = s;
  });
  return prev;
}

// The factors of a table eq[a] = c[oc] h[oh] w[ow], a = (oc R + oh) C + ow (R, C and the table's
// size powers of two: an eq(q, .) over a convolution's rows in the power-of-two layout, whose
// coordinates split into the channel's, the row's and the column's): its marginal sums, each the
// factor where the others sum to 1 over their range, as eq's do. Nothing unless the table is their
// product at every entry (checked: O(size) products), so a table of any other form is never
// misread.
template <class K>
struct EqFactors {
  std::vector<K> c, h, w;
};

template <class K>
std::optional<EqFactors<K>> eq_factors(std::span<const K> eq, std::size_t R, std::size_t C) {
  const std::size_t n = eq.size();
  if (!std::has_single_bit(n) || !std::has_single_bit(R) || !std::has_single_bit(C) || n < R * C) return std::nullopt;
  EqFactors<K> f{std::vector<K>(n / (R * C), K::zero()), std::vector<K>(R, K::zero()), std::vector<K>(C, K::zero())};
  for (std::size_t a = 0; a < n; ++a) f.c[a / (R * C)] += eq[a], f.h[a / C % R] += eq[a], f.w[a % C] += eq[a];
  std::vector<char> differs(f.c.size(), 0);  // per channel: the products are most of the work
  parallel_for(f.c.size(), [&](std::size_t oc) {
    for (std::size_t oh = 0; oh < R && !differs[oc]; ++oh) {
      const K ch = f.c[oc] * f.h[oh];
      for (std::size_t ow = 0; ow < C; ++ow) differs[oc] |= eq[(oc * R + oh) * C + ow] != ch * f.w[ow];
    }
  });
  if (std::find(differs.begin(), differs.end(), 1) != differs.end()) return std::nullopt;
  return f;
}

// e's entries as kernel row k at input row i reads them (taps[k in + i]): e[o] where i + pad = o
// stride + k for an output row o < out, else zero. (Rows, or columns.)
template <class K>
std::vector<K> factor_by_tap(const std::vector<K>& e, std::size_t kernel, std::size_t in, std::size_t pad,
                             std::size_t stride, std::size_t out) {
  std::vector<K> taps(kernel * in, K::zero());
  for (std::size_t k = 0; k < kernel; ++k)
    for (std::size_t i = 0; i < in; ++i) {
      const std::size_t y = i + pad;
      if (y >= k && (y - k) % stride == 0 && (y - k) / stride < out) taps[k * in + i] = e[(y - k) / stride];
    }
  return taps;
}

// eq(q, .)'s factors over a convolution's rows (R x C positions, powers of two) taken from the
// point itself: an index a = (oc R + oh) C + ow has ow in its low bits, oh in the next and oc in
// the high ones, and eq(q, a) is the product of eq over each part of q, so each factor is eq_table
// of its part, entry for entry what eq_factors(eq_table(q), R, C) sums up (the others' tables each
// sum to 1), without the 2^|q| table, the sums or the check. Nothing where R x C exceeds the rows.
template <class K>
std::optional<EqFactors<K>> eq_factors_at(std::span<const K> q, std::size_t R, std::size_t C) {
  const std::size_t log_r = ceil_log2(R), log_c = ceil_log2(C);
  if (!std::has_single_bit(R) || !std::has_single_bit(C) || q.size() >= 64 || log_r + log_c > q.size())
    return std::nullopt;
  return EqFactors<K>{eq_table<K>(q.subspan(log_c + log_r)), eq_table<K>(q.subspan(log_c, log_r)),
                      eq_table<K>(q.first(log_c))};
}

// conv_transpose_exact's result (op^T eq) where eq factors by channel, row and column
// (eq_factors or eq_factors_at; the convolution's output rows and columns powers of two, as the
// power-of-two layout makes them): issue 23's separable structure on the prover's side.
// prev[(ci, ih, iw)] = sum_{kh, kw} G[ci][kh][kw] c_h(kh, ih) c_w(kw, iw) with G[ci][kh][kw] =
// sum_{co of ci's group} K[co][ci][kh][kw] c[co]: O(kernel entries + kernel size x (H + W) x
// channels + inputs x kernel rows) products, not one per tap of every input (CIFAR-size's second
// convolution: ~50K instead of 4.7M). Nothing where the factors have fewer channels than the op
// or other numbers of rows and columns than its output.
template <class K>
std::optional<std::vector<K>> conv_transpose_separable(const LinearOp& op, const EqFactors<K>& f) {
  const ConvShape& c = op.conv;
  if (f.c.size() < c.out_channels || f.h.size() != c.out_rows() || f.w.size() != c.out_cols()) return std::nullopt;
  const std::size_t KH = c.kernel_h, KW = c.kernel_w, kk = KH * KW, H = c.in_h, W = c.in_w;
  const std::vector<K> by_row = factor_by_tap(f.h, KH, H, c.pad_top, c.stride_h, c.out_h());
  const std::vector<K> by_col = factor_by_tap(f.w, KW, W, c.pad_left, c.stride_w, c.out_w());
  const std::size_t gin = c.group_in(), gout = c.out_channels / c.groups;
  // GW[(ci KH + kh) W + iw] = sum_kw G[ci][kh][kw] c_w(kw, iw): the kernel's columns summed first.
  std::vector<K> GW(c.in_channels * KH * W, K::zero());
  op.weights.visit([&](const auto* w) {
    parallel_for(c.in_channels, [&](std::size_t ci) {
      const std::size_t group = ci / gin, cl = ci % gin;
      std::vector<K> G(kk, K::zero());
      for (std::size_t co = group * gout; co < (group + 1) * gout; ++co)
        for (std::size_t t = 0; t < kk; ++t)
          G[t] += K::from_int(static_cast<std::int64_t>(w[(co * gin + cl) * kk + t])) * f.c[co];
      for (std::size_t kh = 0; kh < KH; ++kh)
        for (std::size_t iw = 0; iw < W; ++iw) {
          K s = K::zero();
          for (std::size_t kw = 0; kw < KW; ++kw) s += G[kh * KW + kw] * by_col[kw * W + iw];
          GW[(ci * KH + kh) * W + iw] = s;
        }
    });
  });
  std::vector<K> prev(op.cols, K::zero());  // padding positions stay zero: no tap reads them
  parallel_for(c.in_channels * H, [&](std::size_t r) {
    const std::size_t ci = r / H, ih = r % H;
    for (std::size_t iw = 0; iw < W; ++iw) {
      K s = K::zero();
      for (std::size_t kh = 0; kh < KH; ++kh) s += by_row[kh * H + ih] * GW[(ci * KH + kh) * W + iw];
      prev[(ci * c.in_rows() + ih) * c.in_cols() + iw] = s;
    }
  });
  return prev;
}

// The same from the eq table itself: nothing where it does not factor (eq_factors).
template <class K>
std::optional<std::vector<K>> conv_transpose_separable(const LinearOp& op, std::span<const K> eq) {
  const std::optional<EqFactors<K>> f = eq_factors(eq, op.conv.out_rows(), op.conv.out_cols());
  if (!f) return std::nullopt;
  return conv_transpose_separable(op, *f);
}

// ops[0, end) of a structured layer's chain applied transposed to cur, last first: pool_transpose
// for sum pools, conv_transpose_exact for the other convolutions it fits, dense_transpose_exact for
// dense ops of int32 weights and fewer than 2^31 rows, chain_transpose_apply for the rest; then
// padded to the layer's columns.
template <class K, class F>
std::vector<K> transpose_chain_prefix(const FieldLayer<F>& layer, std::size_t end, std::vector<K> cur) {
  const std::span<const LinearOp> ops = layer.q->ops;
  for (std::size_t i = end; i-- > 0;) {
    const LinearOp& op = ops[i];
    if (op.kind == LinearOp::Kind::conv && op.is_ones_pool()) {
      cur = pool_transpose(op, cur);
      continue;
    }
    // Exact while |w| < 2^31 and a feature is read by fewer than 2^31 taps (rows): 31 + 64 + 31 < 127 bits.
    if constexpr (Pieces64<K>::kCount > 0) {
      if (op.kind == LinearOp::Kind::conv && op.weights.width() <= 4 &&
          op.conv.kernel_size() < (std::size_t{1} << 31)) {
        cur = conv_transpose_exact(op, cur);
        continue;
      }
      if (op.kind == LinearOp::Kind::dense && op.weights.width() <= 4 && op.rows < (std::size_t{1} << 31)) {
        cur = dense_transpose_exact(op, cur);
        continue;
      }
    }
    cur = chain_transpose_apply<K>(ops.subspan(i, 1), std::span<const K>(cur));
  }
  cur.resize(padded(layer.cols()), K::zero());
  return cur;
}

// The whole chain applied transposed to eq(q, .)'s entries over the layer's rows (the eq table
// eq_q): the route where the last op's eq factors do not separate.
template <class K, class F>
std::vector<K> transpose_whole_chain(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  const std::span<const LinearOp> ops = layer.q->ops;
  return transpose_chain_prefix<K>(
      layer, ops.size(), std::vector<K>(eq_q.begin(), eq_q.begin() + static_cast<std::ptrdiff_t>(ops.back().rows)));
}

// structured_row_combine (same result): conv_transpose_separable for a last op that is a
// convolution whose eq(q, .) factors (it reads that table itself), then transpose_chain_prefix.
template <class K, class F>
std::vector<K> structured_row_combine_cpu(const FieldLayer<F>& layer, std::span<const K> eq_q) {
  const std::span<const LinearOp> ops = layer.q->ops;
  const LinearOp& last = ops.back();
  if (last.kind == LinearOp::Kind::conv)
    if (auto prev = conv_transpose_separable(last, eq_q))
      return transpose_chain_prefix<K>(layer, ops.size() - 1, std::move(*prev));
  return transpose_whole_chain<K>(layer, eq_q);
}

// structured_row_combine_cpu(layer, eq_table(q)), bit for bit, from the point q: where the last op is a
// convolution, its factors come from q's parts (eq_factors_at) and no eq table of the layer's rows
// is built, summed or copied (~1.5 ms of a CIFAR-size proof at any batch).
template <class K, class F>
std::vector<K> structured_row_combine_at_cpu(const FieldLayer<F>& layer, std::span<const K> q) {
  const std::span<const LinearOp> ops = layer.q->ops;
  const LinearOp& last = ops.back();
  if (last.kind == LinearOp::Kind::conv)
    if (const auto f = eq_factors_at(q, last.conv.out_rows(), last.conv.out_cols()))
      if (auto prev = conv_transpose_separable(last, *f))
        return transpose_chain_prefix<K>(layer, ops.size() - 1, std::move(*prev));
  // Where q's factors decline, so would the table's (the same shape tests): the whole chain.
  return transpose_whole_chain<K>(layer, std::span<const K>(eq_table<K>(q)));
}

}  // namespace nnproof

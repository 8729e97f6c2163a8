// SPDX-License-Identifier: Apache-2.0
#pragma once
// Structured linear maps (PROTOCOL.md section 2: "convolutions, sum pooling and any chain of linear
// maps with no activation between them are one W_i"). A structured layer is a chain of LinearOps
// applied in order; its W_i is their product, never built as a dense matrix. Everything here is
// O(nnz): the verifier's W~(q, s) and the prover's row_combine (a transposed convolution) alike.
//
// Feature layout: a (C, H, W) activation is the feature vector at index c H W + h W + w, which is
// what ONNX Flatten gives, so convolutions and fully connected ops chain without reordering. Proofs
// of format version 3 pad H and W to powers of two in their tables (ConvShape::pow2_in / pow2_out,
// verifier/image_layout.hpp).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/fields.hpp"
#include "verifier/weight_matrix.hpp"

namespace nnproof {

// A 2-D convolution with zero padding, stride and channel groups (no dilation). Sum pooling is the
// depthwise case: groups = in_channels = out_channels with a kernel of ones.
//
// Feature layouts (docs/IMAGE_LAYOUT.md): dense, (c, h, w) at c H W + h W + w; or, with pow2_in /
// pow2_out set (proof format version 3), at (c H' + h) W' + w with H', W' the powers of two at or
// above H, W and zeros at the padding, so that the index's channel, row and column bits are
// separate and eq(s, .) factors (verifier/separable_conv.hpp).
struct ConvShape {
  std::size_t in_channels = 0, in_h = 0, in_w = 0, out_channels = 0;
  std::size_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1;
  std::size_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::size_t groups = 1;
  bool pow2_in = false, pow2_out = false;  // the layouts; neither is part of the model digest

  std::size_t out_h() const { return (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1; }
  std::size_t out_w() const { return (in_w + pad_left + pad_right - kernel_w) / stride_w + 1; }
  // Rows and columns of the layouts: H' and W' when padded to powers of two, else H and W.
  std::size_t in_rows() const { return pow2_in ? pow2_at_least(in_h) : in_h; }
  std::size_t in_cols() const { return pow2_in ? pow2_at_least(in_w) : in_w; }
  std::size_t out_rows() const { return pow2_out ? pow2_at_least(out_h()) : out_h(); }
  std::size_t out_cols() const { return pow2_out ? pow2_at_least(out_w()) : out_w(); }
  // Features in each layout (padding included): the op's cols and rows.
  std::size_t in_size() const { return in_channels * in_rows() * in_cols(); }
  std::size_t out_size() const { return out_channels * out_rows() * out_cols(); }
  std::size_t group_in() const { return in_channels / groups; }
  // Kernel entries: out_channels x (in_channels / groups) x kernel_h x kernel_w, row-major.
  std::size_t kernel_size() const { return out_channels * group_in() * kernel_h * kernel_w; }
  // Throws std::invalid_argument when the shape is empty, inconsistent or too large.
  void validate() const;

  bool operator==(const ConvShape&) const = default;

  static std::size_t pow2_at_least(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
  }
};

struct LinearOp {
  enum class Kind : std::uint8_t { dense = 1, conv = 2 };
  Kind kind = Kind::dense;
  std::size_t rows = 0, cols = 0;  // output x input features
  ConvShape conv;                  // kind == conv only
  WeightMatrix weights;            // dense: rows x cols row-major; conv: the kernel
  // Whether the importer read this op as exact sum pooling (AveragePool / GlobalAveragePool, or a
  // Conv with a 0/1 kernel and no bias): integer weights kept at every scale, not at beta, and
  // never trained (verifier/training/parameters.hpp). Recorded at import, not inferred from the
  // values: a trained depthwise kernel that happens to be all ones is still trained. Not part of the
  // model digest (inference does not depend on it); the training statement binds it.
  bool fixed = false;
  // A fixed op's scale gain s_out / s_in, recorded at quantization from the importer's factor
  // (FloatOp::factor): k_h k_w for an average pool computed as a sum, 1 for a Conv of 0s and 1s
  // (which computes its float map exactly), whatever the kernel's size. Training's step exponents
  // check a layer's gain against it (verifier/training/step.cpp, ops_gain). Not part of the model
  // digest (the layer's gain is).
  double fixed_gain = 1;

  static LinearOp dense(std::size_t rows, std::size_t cols, WeightMatrix weights);
  static LinearOp convolution(const ConvShape& shape, WeightMatrix kernel);
  // A sum pool: depthwise (groups = in = out channels), every kernel entry 1, fixed.
  static LinearOp sum_pool(const ConvShape& shape);
  // Depthwise (groups = in = out channels) with every kernel entry 1: what ONNX's AveragePool is
  // read as, whatever `fixed` says.
  bool is_ones_pool() const;
  std::size_t nnz_bound() const;  // stored weights times their uses: the cost of one application
  void validate() const;
};

// Whether output feature `out` is a padding position of a pow2 output layout (its row or column
// past the image): for_each_tap gives it no taps.
inline bool is_padding_output(const ConvShape& c, std::size_t out) {
  const std::size_t oh_n = c.out_rows(), ow_n = c.out_cols();
  return out / ow_n % oh_n >= c.out_h() || out % ow_n >= c.out_w();
}

// fn(in_index, weight_index) for every kernel tap that reads a real (unpadded) input feature of
// output feature `out`, both indices in the shape's layouts (a padding row of a pow2 layout has no
// taps). The order is fixed, so sums over taps are deterministic.
template <class Fn>
void for_each_tap(const ConvShape& c, std::size_t out, Fn&& fn) {
  if (is_padding_output(c, out)) return;
  const std::size_t oh_n = c.out_rows(), ow_n = c.out_cols();
  const std::size_t co = out / (oh_n * ow_n), oh = out / ow_n % oh_n, ow = out % ow_n;
  const std::size_t gin = c.group_in(), group = co / (c.out_channels / c.groups);
  const std::size_t in_rows = c.in_rows(), in_cols = c.in_cols();
  for (std::size_t cl = 0; cl < gin; ++cl) {
    const std::size_t ci = group * gin + cl;
    for (std::size_t kh = 0; kh < c.kernel_h; ++kh) {
      const std::size_t ih = oh * c.stride_h + kh;  // shifted by pad_top
      if (ih < c.pad_top || ih >= c.pad_top + c.in_h) continue;
      for (std::size_t kw = 0; kw < c.kernel_w; ++kw) {
        const std::size_t iw = ow * c.stride_w + kw;
        if (iw < c.pad_left || iw >= c.pad_left + c.in_w) continue;
        fn((ci * in_rows + (ih - c.pad_top)) * in_cols + (iw - c.pad_left),
           ((co * gin + cl) * c.kernel_h + kh) * c.kernel_w + kw);
      }
    }
  }
}

// fn(in_index, weight) for every nonzero weight of row `out` of the op's matrix.
template <class Fn>
void for_each_entry(const LinearOp& op, std::size_t out, Fn&& fn) {
  op.weights.visit([&](const auto* w) {
    if (op.kind == LinearOp::Kind::dense) {
      for (std::size_t j = 0; j < op.cols; ++j)
        if (w[out * op.cols + j] != 0) fn(j, static_cast<std::int64_t>(w[out * op.cols + j]));
    } else {
      for_each_tap(op.conv, out, [&](std::size_t j, std::size_t t) {
        if (w[t] != 0) fn(j, static_cast<std::int64_t>(w[t]));
      });
    }
  });
}

// The chain's transpose walk, last op to first: `cur` starts as the last op's rows entries of `out`
// (extra entries are ignored), and op i turns it into its cols entries, row(i, op, a, cur[a], prev)
// adding row a's share (for each nonzero cur[a], rows in order) into `prev`. The one loop behind
// chain_transpose_apply and training's replaced_chain_transpose_apply (op_gradient.hpp).
template <class K, class RowFn>
std::vector<K> chain_transpose_walk(std::span<const LinearOp> chain, std::span<const K> out, RowFn&& row) {
  std::vector<K> cur(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(chain.back().rows));
  for (std::size_t i = chain.size(); i-- > 0;) {
    const LinearOp& op = chain[i];
    std::vector<K> prev(op.cols, K::zero());
    for (std::size_t a = 0; a < op.rows; ++a) {
      if (cur[a] == K::zero()) continue;
      row(i, op, a, cur[a], prev);
    }
    cur = std::move(prev);
  }
  return cur;
}

// prev[j] += c W[a][j] over row a's nonzero entries: one row of a transpose application.
template <class K>
void add_transposed_row(const LinearOp& op, std::size_t a, const K& c, std::vector<K>& prev) {
  using F = base_field_t<K>;
  for_each_entry(op, a, [&](std::size_t j, std::int64_t w) { prev[j] += mul_base(c, F::from_int(w)); });
}

// in[j] = sum_a out[a] W[a][j] for the chain's product W (ops applied first to last): the prover's
// row_combine and, dotted with eq(s, .), the verifier's W~(q, s). `out` has the last op's rows
// entries (extra entries are ignored); the result has the first op's cols entries.
template <class K>
std::vector<K> chain_transpose_apply(std::span<const LinearOp> chain, std::span<const K> out) {
  return chain_transpose_walk<K>(chain, out,
                                 [](std::size_t, const LinearOp& op, std::size_t a, const K& c, std::vector<K>& prev) {
                                   add_transposed_row(op, a, c, prev);
                                 });
}

// Per row of the chain's product, an upper bound on sum_j |W[a][j]| (saturating at 2^128 - 1):
// |W_k ... W_1| <= |W_k| ... |W_1| entrywise, so row sums of the product of absolute values bound
// the magnitude exactly as a dense row sum does. Sequential (see magnitude.cpp).
std::vector<u128> chain_abs_row_sums(std::span<const LinearOp> chain);

// Per row, an upper bound on the same, by channel where a convolution or pool gives the rows: each
// output channel's rows get sum |K[oc]| times its input channels' bounds, which every row of the
// channel is at most and an interior row (one that reads every tap) reaches. O(kernel entries +
// features) per convolution instead of O(positions x taps); dense ops as in chain_abs_row_sums.
// The chain must be in the dense layout (the model's own, not a ProofLayout's).
std::vector<u128> chain_abs_row_bounds(std::span<const LinearOp> chain);

}  // namespace nnproof

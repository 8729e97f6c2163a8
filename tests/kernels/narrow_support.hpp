// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the narrow-table tests share (test_narrow_table.cpp, test_narrow_readers.cpp,
// test_narrow_kernels.cpp): a narrow table's widened copy, the rows whose differences and
// extensions are at their largest, and random convolutions, pools, layers and inputs of a width.
#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cpu/narrow_table.hpp"
#include "kernels/engine/table.hpp"
#include "tests/support/models.hpp"  // pick
#include "verifier/linear_op.hpp"
#include "verifier/model.hpp"

namespace nnproof::testing {

template <class F>
inline Table2D<F> widened(Table2D<F> t) {
  widen_narrow_table(t);
  return t;
}

// Entry k of row i of a group (rows z00, z01, z10, z11) at +-top with signs (-, +, +, -), flipped on
// odd k: every difference and extension the kernels form is at its largest (d_0 = 2 top, d_1 =
// -2 top, 2 a_1 - a_0 = 3 top, 2 d_1 - d_0 = -6 top, z11 - z01 - z10 + z00 = -4 top).
inline std::int32_t extreme_corner(std::size_t i, std::size_t k, std::int32_t top) {
  const bool up = (i == 1 || i == 2) != (k % 2 == 1);
  return up ? top : -top;
}

// A signed value with |x| < 2^bits, at the top of the width every few draws.
template <class F>
F signed_below(std::mt19937_64& rng, unsigned bits) {
  const std::int64_t top = (std::int64_t{1} << bits) - 1;
  const std::int64_t v = rng() % 6 == 0 ? top : std::uniform_int_distribution<std::int64_t>(0, top)(rng);
  return F::from_int(rng() % 2 ? -v : v);
}

// Weights in [-wmax, wmax], the extremes included.
inline WeightMatrix random_kernel(std::mt19937_64& rng, std::size_t n, std::int64_t wmax) {
  std::vector<std::int64_t> k(n);
  for (std::size_t i = 0; i < n; ++i)
    k[i] = i % 7 == 0 ? -wmax : i % 7 == 1 ? wmax : std::uniform_int_distribution<std::int64_t>(-wmax, wmax)(rng);
  return WeightMatrix(std::move(k));
}

// A k x k convolution, stride 1, padding `pad` on every side, of (in_c, h, w) images in the given
// layout.
inline LinearOp conv_k(std::mt19937_64& rng, std::size_t in_c, std::size_t out_c, std::size_t h, std::size_t w,
                       std::size_t k, bool pow2, std::size_t pad = 1) {
  ConvShape c;
  c.in_channels = in_c, c.out_channels = out_c, c.in_h = h, c.in_w = w;
  c.kernel_h = c.kernel_w = k;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = pad;
  c.pow2_in = c.pow2_out = pow2;
  return LinearOp::convolution(c, random_kernel(rng, c.kernel_size(), 127));
}

// A convolution of (in_c, h, w) images, weights in [-wmax, wmax]: kernels 2-3 x 2-3, strides 1-2,
// paddings below the kernel, either layout.
inline LinearOp random_conv(std::mt19937_64& rng, std::size_t in_c, std::size_t out_c, std::size_t h, std::size_t w,
                            std::int64_t wmax) {
  ConvShape c;
  c.in_channels = in_c, c.out_channels = out_c, c.in_h = h, c.in_w = w;
  c.kernel_h = pick(rng, 2, 3), c.kernel_w = 3;  // at least 6 taps: with 2+ channels the limb route's 8 on average
  c.stride_h = pick(rng, 1, 2), c.stride_w = pick(rng, 1, 2);
  c.pad_top = c.pad_left = pick(rng, 0, 1), c.pad_bottom = c.pad_right = pick(rng, 0, 1);
  c.pow2_in = c.pow2_out = rng() % 2 == 0;
  return LinearOp::convolution(c, random_kernel(rng, c.kernel_size(), wmax));
}

// A kh x kw sum pool, stride `stride`, of the op's output images (its layout).
inline LinearOp pool_after(const LinearOp& op, std::size_t kh, std::size_t kw, std::size_t stride) {
  ConvShape c;
  c.groups = c.in_channels = c.out_channels = op.conv.out_channels;
  c.in_h = op.conv.out_h(), c.in_w = op.conv.out_w();
  c.kernel_h = kh, c.kernel_w = kw, c.stride_h = c.stride_w = stride;
  c.pow2_in = c.pow2_out = op.conv.pow2_out;
  return LinearOp::sum_pool(c);
}

template <class F>
FieldLayer<F> layer_of(QuantizedLayer& q, std::mt19937_64& rng, unsigned bias_bits) {
  q.rows = q.ops.back().rows, q.cols = q.ops.front().cols;
  FieldLayer<F> layer{&q, {}};
  for (std::size_t a = 0; a < q.rows; ++a) layer.bias.push_back(signed_below<F>(rng, bias_bits));
  return layer;
}

template <class F>
Table2D<F> input_of(std::mt19937_64& rng, std::size_t cols, std::size_t batch, unsigned bits) {
  Table2D<F> Y(padded(cols), padded(batch));
  for (std::size_t j = 0; j < cols; ++j)
    for (std::size_t k = 0; k < batch; ++k) Y.at(j, k) = signed_below<F>(rng, bits);
  return Y;
}

}  // namespace nnproof::testing

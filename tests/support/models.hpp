// SPDX-License-Identifier: Apache-2.0
#pragma once
// Random quantized networks and statements for tests (and the fuzz targets: no GoogleTest here).
// Every builder draws from the caller's generator in a fixed order, so that a seed names one case:
// changing what a builder draws, or in which order, changes the cases every test runs.
#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "host/synthetic.hpp"
#include "verifier/model.hpp"
#include "verifier/statement.hpp"

namespace nnproof::testing {

// A size drawn uniformly from [lo, hi].
inline std::size_t pick(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

// Dense layers dims[0] -> dims[1] -> ...: weights in [-wmax, wmax], biases in [-bmax, bmax] (the
// networks `nnproof bench` proves, drawn the same way).
inline QuantizedModel random_model(const std::vector<std::size_t>& dims, std::mt19937_64& rng, std::int64_t wmax = 3,
                                   std::int64_t bmax = 3) {
  return synthetic_model(dims, rng, wmax, bmax);
}

// ---- random convolutional networks (PROTOCOL.md section 2's structured layers) ----

// The (channels, height, width) of the tensor between two ops.
struct ImageDims {
  std::size_t c, h, w;
};

// A convolution over `img` of random kernel, strides, paddings (each smaller than the kernel) and
// groups, with weights in [-3, 3]; `img` becomes its output.
inline LinearOp random_conv(std::mt19937_64& rng, ImageDims& img) {
  ConvShape c;
  c.in_channels = img.c;
  c.in_h = img.h;
  c.in_w = img.w;
  c.kernel_h = pick(rng, 1, std::min<std::size_t>(img.h, 4));
  c.kernel_w = pick(rng, 1, std::min<std::size_t>(img.w, 4));
  c.stride_h = pick(rng, 1, 3);
  c.stride_w = pick(rng, 1, 2);
  c.pad_top = pick(rng, 0, c.kernel_h - 1);
  c.pad_bottom = pick(rng, 0, c.kernel_h - 1);
  c.pad_left = pick(rng, 0, c.kernel_w - 1);
  c.pad_right = pick(rng, 0, c.kernel_w - 1);
  c.groups = img.c % 2 == 0 && pick(rng, 0, 1) ? 2 : 1;
  c.out_channels = c.groups * pick(rng, 1, 2);
  img = {c.out_channels, c.out_h(), c.out_w()};
  return LinearOp::convolution(c, random_ints(rng, c.kernel_size(), 3));
}

// Depthwise ones kernel: sum pooling over 2 x 2 windows (or the whole of a thinner side), sometimes
// padded at the bottom.
inline LinearOp random_sum_pool(std::mt19937_64& rng, ImageDims& img) {
  ConvShape c;
  c.in_channels = c.out_channels = c.groups = img.c;
  c.in_h = img.h;
  c.in_w = img.w;
  c.kernel_h = std::min<std::size_t>(img.h, 2);
  c.kernel_w = std::min<std::size_t>(img.w, 2);
  c.stride_h = c.kernel_h;
  c.stride_w = c.kernel_w;
  c.pad_bottom = c.kernel_h > 1 ? pick(rng, 0, 1) : 0;
  img = {c.out_channels, c.out_h(), c.out_w()};
  return LinearOp::sum_pool(c);
}

// A dense op from the flattened image to 1..7 features.
inline LinearOp random_dense(std::mt19937_64& rng, ImageDims& img) {
  const std::size_t cols = img.c * img.h * img.w, rows = pick(rng, 1, 7);
  img = {rows, 1, 1};
  return LinearOp::dense(rows, cols, random_ints(rng, rows * cols, 3));
}

// `depth` structured layers over a random 1..3 x 3..9 x 3..9 image, each a chain of one to three
// ops (convolutions, sum pools or dense maps) and a bias in [-3, 3].
inline QuantizedModel random_cnn(std::mt19937_64& rng, std::size_t depth) {
  QuantizedModel m;
  ImageDims img{pick(rng, 1, 3), pick(rng, 3, 9), pick(rng, 3, 9)};
  m.input_shape = {img.c, img.h, img.w};
  for (std::size_t i = 0; i < depth; ++i) {
    QuantizedLayer l;
    l.cols = img.c * img.h * img.w;
    const std::size_t ops = pick(rng, 1, 3);
    for (std::size_t k = 0; k < ops; ++k) {
      const std::size_t kind = pick(rng, 0, 5);
      if (kind <= 2)
        l.ops.push_back(random_conv(rng, img));
      else if (kind <= 4)
        l.ops.push_back(random_sum_pool(rng, img));
      else
        l.ops.push_back(random_dense(rng, img));
    }
    l.rows = img.c * img.h * img.w;
    const std::vector<std::int64_t> bias = random_ints(rng, l.rows, 3);
    l.bias.assign(bias.begin(), bias.end());
    m.layers.push_back(std::move(l));
  }
  m.validate();
  return m;
}

// ---- statements ----

// The statement that `input` (batch x n_0 entries) goes through `m`; outputs are left to the prover.
template <class Cfg>
Statement<Cfg> make_statement(const QuantizedModel& m, std::size_t batch, std::vector<typename Cfg::F> input) {
  Statement<Cfg> st;
  st.model = &m;
  st.model_digest = model_digest(m);
  st.batch = batch;
  st.input = std::move(input);
  return st;
}

// A statement over `m` with batch x n_0 inputs drawn uniformly from [-xmax, xmax].
template <class Cfg>
Statement<Cfg> random_statement(const QuantizedModel& m, std::size_t batch, std::mt19937_64& rng,
                                std::int64_t xmax = 3) {
  std::uniform_int_distribution<std::int64_t> x(-xmax, xmax);
  std::vector<typename Cfg::F> input;
  for (std::size_t t = 0; t < batch * m.in_dim(); ++t) input.push_back(Cfg::F::from_int(x(rng)));
  return make_statement<Cfg>(m, batch, std::move(input));
}

// A shape-only model (one 1 x n0 layer, no weights): the input pass and the input binding read the
// model's n_0 and nothing else of it.
inline QuantizedModel shape_only_model(std::size_t n0) {
  QuantizedModel m;
  QuantizedLayer l;
  l.rows = 1;
  l.cols = n0;
  m.layers.push_back(l);
  return m;
}

}  // namespace nnproof::testing

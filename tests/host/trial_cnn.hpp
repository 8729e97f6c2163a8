// SPDX-License-Identifier: Apache-2.0
#pragma once
// The tiny CNN of issue 19's user trial, for the quantize tests and its benchmark (docs/PERFORMANCE.md):
// Conv 1->8 5x5 (with bias), x*x, 2x2 average pool, Linear 1152->10, on 28x28 images. Weights as
// PyTorch initializes them (uniform in +-1/sqrt(fan_in), arbitrary floats, not sixteenths), images
// as MNIST ships them scaled to [0, 1] (k/255, a third of the pixels 0), labels the float model's
// predictions.
#include <random>
#include <string>
#include <vector>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/host/onnx_reference.hpp"

namespace nnproof::testing {

struct TrialFiles {
  std::string model, images, labels;
};

inline std::vector<double> uniform(std::mt19937_64& rng, std::size_t n, double limit) {
  std::uniform_real_distribution<double> d(-limit, limit);
  std::vector<double> v(n);
  // Rounded to float32: the file holds float32 weights, and the test's float model is what it holds.
  for (double& x : v) x = static_cast<float>(d(rng));
  return v;
}

// Writes <dir>/trial.onnx, trial_x.npy ((images, 1, side, side) float64) and trial_y.npy.
inline TrialFiles write_trial_cnn(const std::string& dir, std::size_t images, std::size_t side = 28,
                                  std::size_t maps = 8, std::uint64_t seed = 19) {
  std::mt19937_64 rng(seed);
  const std::size_t k = 5, conv_side = side - k + 1, pooled = conv_side / 2, features = maps * pooled * pooled;
  BuilderStage conv;
  conv.kind = BuilderStage::Kind::conv;
  conv.out_channels = maps;
  conv.kernel_h = conv.kernel_w = k;
  conv.weights = uniform(rng, maps * k * k, 1.0 / static_cast<double>(k));
  conv.bias = uniform(rng, maps, 1.0 / static_cast<double>(k));
  BuilderStage square, pool, flatten, dense;
  square.kind = BuilderStage::Kind::square;
  pool.kind = BuilderStage::Kind::average_pool;
  pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
  flatten.kind = BuilderStage::Kind::flatten;
  dense.kind = BuilderStage::Kind::dense;
  dense.rows = 10;
  dense.cols = features;
  dense.weights = uniform(rng, 10 * features, 1.0 / std::sqrt(static_cast<double>(features)));
  dense.bias = uniform(rng, 10, 1.0 / std::sqrt(static_cast<double>(features)));
  TrialFiles f{dir + "/trial.onnx", dir + "/trial_x.npy", dir + "/trial_y.npy"};
  write_cnn_onnx(f.model, {1, side, side}, {conv, square, pool, flatten, dense});

  std::uniform_int_distribution<int> pixel(-128, 255);  // below 0: a black pixel, as a third of MNIST's
  std::vector<double> x(images * side * side);
  for (double& v : x) v = std::max(0, pixel(rng)) / 255.0;
  write_npy_f64(f.images, {images, 1, side, side}, x);
  const FloatModel m = import_onnx(f.model);
  std::vector<std::int64_t> y(images);
  for (std::size_t s = 0; s < images; ++s) {
    const std::vector<double> out =
        run_float(m, std::vector<double>(x.begin() + s * side * side, x.begin() + (s + 1) * side * side));
    y[s] = std::max_element(out.begin(), out.end()) - out.begin();
  }
  write_npy_i64(f.labels, {images}, y);
  return f;
}

}  // namespace nnproof::testing

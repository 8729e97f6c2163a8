// SPDX-License-Identifier: Apache-2.0
#pragma once
// Two float evaluations for the ONNX import tests: the network as ONNX defines its ops, written
// here op by op (zero padding, convolution, average pooling, batch normalization, ...), and the
// FloatModel the importer made of it (its layers' ops and biases, squares between layers). Folding
// normalization into the layers changes only the rounding, so the two agree to ~1e-12.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "verifier/linear_op.hpp"

namespace nnproof::testing {

struct Image {
  std::size_t c = 0, h = 0, w = 0;
  std::vector<double> v;  // c * h * w
  double at(std::size_t ci, std::int64_t y, std::int64_t x) const {
    if (y < 0 || x < 0 || y >= static_cast<std::int64_t>(h) || x >= static_cast<std::int64_t>(w)) return 0;
    return v[(ci * h + static_cast<std::size_t>(y)) * w + static_cast<std::size_t>(x)];
  }
};

// ONNX Pad (constant 0) of H and W.
inline Image pad(const Image& x, std::size_t top, std::size_t left, std::size_t bottom, std::size_t right) {
  Image y{x.c, x.h + top + bottom, x.w + left + right, {}};
  y.v.assign(y.c * y.h * y.w, 0.0);
  for (std::size_t c = 0; c < x.c; ++c)
    for (std::size_t i = 0; i < x.h; ++i)
      for (std::size_t j = 0; j < x.w; ++j) y.v[(c * y.h + i + top) * y.w + j + left] = x.v[(c * x.h + i) * x.w + j];
  return y;
}

// ONNX Conv without padding (pad first): weights (m, c / group, k, k), bias m entries or empty.
inline Image conv(const Image& x, const std::vector<double>& wt, const std::vector<double>& bias, std::size_t m,
                  std::size_t k, std::size_t stride = 1, std::size_t group = 1) {
  Image y{m, (x.h - k) / stride + 1, (x.w - k) / stride + 1, {}};
  y.v.assign(y.c * y.h * y.w, 0.0);
  const std::size_t cin = x.c / group, per_group = m / group;
  for (std::size_t co = 0; co < m; ++co)
    for (std::size_t i = 0; i < y.h; ++i)
      for (std::size_t j = 0; j < y.w; ++j) {
        double acc = bias.empty() ? 0.0 : bias[co];
        for (std::size_t cl = 0; cl < cin; ++cl)
          for (std::size_t a = 0; a < k; ++a)
            for (std::size_t b = 0; b < k; ++b)
              acc += wt[((co * cin + cl) * k + a) * k + b] * x.at(co / per_group * cin + cl,
                                                                  static_cast<std::int64_t>(i * stride + a),
                                                                  static_cast<std::int64_t>(j * stride + b));
        y.v[(co * y.h + i) * y.w + j] = acc;
      }
  return y;
}

// ONNX AveragePool without padding: the window's mean.
inline Image average_pool(const Image& x, std::size_t k, std::size_t stride) {
  Image y{x.c, (x.h - k) / stride + 1, (x.w - k) / stride + 1, {}};
  for (std::size_t c = 0; c < x.c; ++c)
    for (std::size_t i = 0; i < y.h; ++i)
      for (std::size_t j = 0; j < y.w; ++j) {
        double acc = 0;
        for (std::size_t a = 0; a < k; ++a)
          for (std::size_t b = 0; b < k; ++b)
            acc += x.at(c, static_cast<std::int64_t>(i * stride + a), static_cast<std::int64_t>(j * stride + b));
        y.v.push_back(acc / static_cast<double>(k * k));
      }
  return y;
}

// ONNX BatchNormalization (eval) over channels: scale (x - mean) / sqrt(var + eps) + B.
inline Image batch_norm(Image x, const std::vector<double>& scale, const std::vector<double>& b,
                        const std::vector<double>& mean, const std::vector<double>& var, double eps) {
  const std::size_t plane = x.h * x.w;
  for (std::size_t i = 0; i < x.v.size(); ++i) {
    const std::size_t c = i / plane;
    x.v[i] = scale[c] * (x.v[i] - mean[c]) / std::sqrt(var[c] + eps) + b[c];
  }
  return x;
}

inline Image square(Image x) {
  for (double& v : x.v) v *= v;
  return x;
}

// Gemm(transB=1) of the flattened image: (rows) outputs.
inline Image gemm(const Image& x, const std::vector<double>& wt, const std::vector<double>& bias, std::size_t rows) {
  Image y{rows, 1, 1, std::vector<double>(rows, 0.0)};
  const std::size_t cols = x.v.size();
  for (std::size_t a = 0; a < rows; ++a) {
    y.v[a] = bias.empty() ? 0.0 : bias[a];
    for (std::size_t j = 0; j < cols; ++j) y.v[a] += wt[a * cols + j] * x.v[j];
  }
  return y;
}

// The imported model in float, one sample.
inline std::vector<double> run_float(const FloatModel& m, std::vector<double> x) {
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const FloatLayer& l = m.layers[i];
    std::vector<double> y;
    if (!l.structured()) {
      y.assign(l.rows, 0.0);
      for (std::size_t a = 0; a < l.rows; ++a)
        for (std::size_t j = 0; j < l.cols; ++j) y[a] += l.weights[a * l.cols + j] * x[j];
    } else {
      y = x;
      for (const FloatOp& op : l.ops) {
        std::vector<double> z(op.rows, 0.0);
        for (std::size_t a = 0; a < op.rows; ++a) {
          if (op.kind == LinearOp::Kind::dense)
            for (std::size_t j = 0; j < op.cols; ++j) z[a] += op.weights[a * op.cols + j] * y[j];
          else
            for_each_tap(op.conv, a, [&](std::size_t j, std::size_t t) { z[a] += op.weights[t] * y[j]; });
          z[a] *= op.factor;
        }
        y = std::move(z);
      }
    }
    for (std::size_t a = 0; a < l.rows; ++a) y[a] += l.bias[a];
    if (i + 1 < m.layers.size())
      for (double& v : y) v *= v;
    x = std::move(y);
  }
  return x;
}

// Multiples of 1/16 in [-2, 2]: exact in float32, so what the file holds is what the test computes with.
inline std::vector<double> sixteenths(std::mt19937_64& rng, std::size_t n, int lo = -32, int hi = 32) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng) / 16.0;
  return v;
}

}  // namespace nnproof::testing

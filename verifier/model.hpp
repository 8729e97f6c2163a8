// SPDX-License-Identifier: Apache-2.0
#pragma once
// The quantized network of PROTOCOL.md section 2: L affine layers with exact integer weights and
// biases. Everything the verifier knows about the model; it never sees floats.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/hostdevice.hpp"
#include "verifier/linear_op.hpp"
#include "verifier/sha256.hpp"

namespace nnproof {

// Applied by the verifier to the verified outputs; never proved (PROTOCOL.md section 2).
enum class FinalOp : std::uint8_t { none = 0, softmax = 1, log_softmax = 2 };

// A layer's W_i is either a dense matrix (`weights`) or, for convolutions and pooling, a chain of
// structured ops (`ops`, applied first to last) that is never expanded into a dense matrix.
struct QuantizedLayer {
  std::size_t rows = 0;       // n_i
  std::size_t cols = 0;       // n_{i-1}
  WeightMatrix weights;       // W_i, rows x cols, row-major (dense layers)
  std::vector<i128> bias;     // B_i, rows entries (grows with the scales: may exceed 2^63)
  std::vector<LinearOp> ops;  // W_i = ops.back() ... ops.front() (structured layers)
  // s_Z(i) / s_Y(i-1), for dequantizing only: beta for one weighted op, beta^2 for two, times k^2
  // for a k x k average pool computed as a sum. Unset means beta.
  std::optional<double> gain;

  bool structured() const { return !ops.empty(); }
};

struct QuantizedModel {
  std::vector<QuantizedLayer> layers;
  double alpha = 1;  // input scale
  double beta = 1;   // weight scale
  FinalOp final_op = FinalOp::none;

  std::size_t depth() const { return layers.size(); }
  std::size_t in_dim() const { return layers.front().cols; }
  std::size_t out_dim() const { return layers.back().rows; }
  std::vector<std::size_t> dims() const;  // n_0, n_1, ..., n_L
  // The per-sample input shape a user's file may have besides (batch, n_0), e.g. {1, 28, 28} for a
  // convolutional model; empty when only (batch, n_0) is meaningful. Not part of the digest.
  std::vector<std::size_t> input_shape;
  // The scale of the output Z_L: s_Z(L) of PROTOCOL.md section 7 (divide to dequantize).
  double output_scale() const;
  // Throws std::invalid_argument naming the layer if dimensions do not chain or sizes are off.
  void validate() const;
};

// SHA-256 over the canonical encoding of the model (docs/FORMAT.md, "Model digest").
Digest model_digest(const QuantizedModel& model);

}  // namespace nnproof

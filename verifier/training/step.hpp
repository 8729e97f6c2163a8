// SPDX-License-Identifier: Apache-2.0
#pragma once
// The trainer's exact step (TRAINING.md section 3) and the convergence verdict built on it
// (section 4): W_i <- W_i - rdiv(G_i, n 2^k_W), B_i <- B_i - rdiv(g_i, n 2^k_B(i)), where
// 2^k_W = s_Z(L)^2 / (eta beta^2), 2^k_B(i) = s_Z(L)^2 / (eta s_Z(i)^2) and eta = 2^-e. Shared by
// the trainer (host/training/trainer.hpp) and the verifier, which counts the weights a full-batch
// step would still move.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/fields.hpp"
#include "verifier/model.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof {

// The exponents of a model's step for eta = 2^-lr_exponent: k_W and k_B(i) (at index i - 1), which
// may be negative. Needs power-of-two alpha and beta (what `nnproof quantize` chooses), so that
// every s_Z(i) is a power of two and k_W, k_B(i) integers, and dense layers; std::invalid_argument
// otherwise.
struct StepExponents {
  int weight = 0;
  std::vector<int> bias;
};
StepExponents step_exponents(const QuantizedModel& model, std::uint32_t lr_exponent);

// a / (n 2^k) rounded to the nearest integer, ties away from zero (the quantizer's rule), exactly,
// for any n >= 1 and k (negative k multiplies). Nothing when the quotient does not fit an i128
// (k < 0 and |a| 2^-k past 2^128); it is then far from zero.
std::optional<i128> rdiv_pow2(i128 a, std::uint64_t n, int k);

// How many weights and biases the full-batch step over `samples` samples at eta = 2^-lr_exponent
// would change (TRAINING.md section 4): the j with rdiv(G_j, N 2^k) != 0, gradients read as
// centered integers.
template <class F>
std::size_t weights_changed(const TrainingClaims<F>& claims, std::size_t samples, std::uint32_t lr_exponent,
                            const QuantizedModel& model);

// The scale gain a structured layer's ops give when their weights are at beta: beta per trained op
// times each fixed op's own gain (LinearOp::fixed_gain: k_h k_w for an AveragePool read as a sum,
// 1 for a Conv of 0s and 1s of any size). Training steps every trained weight as one at scale beta,
// so a structured layer's gain must be this; step_exponents also refuses a fixed op with any other
// gain (a constant folded into a pool), whose trained model could not be written back as ONNX.
double ops_gain(const QuantizedLayer& layer, double beta);

// Every weight and bias of the model's layers.
std::size_t weights_total(const QuantizedModel& model);

}  // namespace nnproof

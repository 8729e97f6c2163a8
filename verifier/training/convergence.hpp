// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a verified loss and gradient say about the returned model (TRAINING.md section 4): how
// many weights and biases one more full-batch step of gradient descent at the client's learning
// rate would move, the loss and the gradient norms in the model's real units.
#include <cstdint>
#include <vector>

#include "verifier/training/statement.hpp"
#include "verifier/training/step.hpp"

namespace nnproof {

struct ConvergenceReport {
  std::size_t weights_changed = 0;  // weights and biases a full-batch step would change
  std::size_t weights_total = 0;
  double loss_float = 0;               // L / (N s_Z(L)^2): the real-valued mean squared error
  std::vector<double> gradient_norms;  // per layer: || dL'/dW'_i, dL'/dB'_i ||_2, real units
};

template <class F>
ConvergenceReport convergence_report(const QuantizedModel& model, const TrainingClaims<F>& claims, std::size_t samples,
                                     std::uint32_t lr_exponent);

// The gradients in the model's real units, layer by layer: dL'/dW'_i (n_i x n_{i-1}, row-major)
// and dL'/dB'_i (n_i), for L' the mean over the N samples of the squared error.
struct RealGradients {
  std::vector<std::vector<double>> weights, biases;
};
template <class F>
RealGradients real_gradients(const QuantizedModel& model, const TrainingClaims<F>& claims, std::size_t samples);

}  // namespace nnproof

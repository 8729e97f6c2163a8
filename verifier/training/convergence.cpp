// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/convergence.hpp"

#include <cmath>

namespace nnproof {

template <class F>
ConvergenceReport convergence_report(const QuantizedModel& model, const TrainingClaims<F>& claims, std::size_t samples,
                                     std::uint32_t lr_exponent) {
  ConvergenceReport r;
  const double s_out = model.output_scale();
  const double real_unit = 1.0 / (static_cast<double>(samples) * s_out * s_out);  // dL'/dw' = G beta / (N s_Z(L)^2)
  r.loss_float = static_cast<double>(claims.loss.centered()) * real_unit;
  r.weights_changed = weights_changed(claims, samples, lr_exponent, model);
  r.weights_total = weights_total(model);
  const RealGradients real = real_gradients(model, claims, samples);
  for (std::size_t i = 0; i < model.depth(); ++i) {
    double sq = 0;
    for (double v : real.weights[i]) sq += v * v;
    for (double v : real.biases[i]) sq += v * v;
    r.gradient_norms.push_back(std::sqrt(sq));
  }
  return r;
}

template <class F>
RealGradients real_gradients(const QuantizedModel& model, const TrainingClaims<F>& claims, std::size_t samples) {
  RealGradients out;
  const double s_out = model.output_scale();
  const double real_unit = 1.0 / (static_cast<double>(samples) * s_out * s_out);
  double s_y = model.alpha;
  for (std::size_t i = 0; i < model.depth(); ++i) {
    const double s_z = s_y * model.layers[i].gain.value_or(model.beta);
    auto& w = out.weights.emplace_back();
    for (const F& g : claims.weight_gradients[i])
      w.push_back(static_cast<double>(g.centered()) * model.beta * real_unit);
    auto& b = out.biases.emplace_back();
    for (const F& g : claims.bias_gradients[i]) b.push_back(static_cast<double>(g.centered()) * s_z * real_unit);
    s_y = s_z * s_z;
  }
  return out;
}

template RealGradients real_gradients(const QuantizedModel&, const TrainingClaims<Fp61>&, std::size_t);
template RealGradients real_gradients(const QuantizedModel&, const TrainingClaims<Fp127>&, std::size_t);
template ConvergenceReport convergence_report(const QuantizedModel&, const TrainingClaims<Fp61>&, std::size_t,
                                              std::uint32_t);
template ConvergenceReport convergence_report(const QuantizedModel&, const TrainingClaims<Fp127>&, std::size_t,
                                              std::uint32_t);

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/convergence.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace nnproof {
namespace {

// log2 of a power-of-two scale, or an error naming it.
int exact_log2(double s, const char* what) {
  int e = 0;
  if (!(s > 0) || std::frexp(s, &e) != 0.5)
    throw std::invalid_argument(std::string("the ") + what +
                                " is not a power of two: the exact training step needs power-of-two scales (nnproof "
                                "quantize chooses them)");
  return e - 1;
}

u128 abs128(i128 g) { return g < 0 ? static_cast<u128>(-(g + 1)) + 1 : static_cast<u128>(g); }

}  // namespace

int step_shift(const QuantizedModel& model, double parameter_scale, std::uint32_t lr_exponent) {
  return 2 * exact_log2(model.output_scale(), "output scale s_Z(L)") + static_cast<int>(lr_exponent) -
         2 * exact_log2(parameter_scale, "parameter scale");
}

bool step_moves(i128 g, std::size_t n, int k) {
  // |g| / (n 2^k) >= 1/2  <=>  2 |g| >= n 2^k  <=>  |g| 2^(1 + max(-k, 0)) >= n 2^max(k, 0).
  const u128 a = abs128(g);
  const int left_shift = 1 + (k < 0 ? -k : 0), right_shift = k > 0 ? k : 0;
  // a << left_shift >= n << right_shift, with n < 2^64 and a < 2^127: shift only one side.
  if (left_shift >= right_shift) {
    const int d = left_shift - right_shift;  // a << d >= n
    if (d >= 64) return a != 0;
    return a >= ((static_cast<u128>(n) + (u128{1} << d) - 1) >> d);  // a >= ceil(n / 2^d)
  }
  const int d = right_shift - left_shift;                                         // a >= n << d
  if (d >= 128) return false;                                                     // n 2^d >= 2^128 > a
  if (d > 64 && (static_cast<std::uint64_t>(n) >> (128 - d)) != 0) return false;  // n 2^d >= 2^128
  return a >= (static_cast<u128>(n) << d);
}

template <class F>
ConvergenceReport convergence_report(const QuantizedModel& model, const TrainingClaims<F>& claims, std::size_t samples,
                                     std::uint32_t lr_exponent) {
  ConvergenceReport r;
  const double s_out = model.output_scale();
  const double real_unit = 1.0 / (static_cast<double>(samples) * s_out * s_out);  // dL'/dw' = G beta / (N s_Z(L)^2)
  r.loss_float = static_cast<double>(claims.loss.centered()) * real_unit;
  const RealGradients real = real_gradients(model, claims, samples);
  double s_y = model.alpha;  // s_Y(i-1)
  for (std::size_t i = 0; i < model.depth(); ++i) {
    const double s_z = s_y * model.layers[i].gain.value_or(model.beta);
    const int k_w = step_shift(model, model.beta, lr_exponent), k_b = step_shift(model, s_z, lr_exponent);
    for (const F& g : claims.weight_gradients[i]) r.weights_changed += step_moves(g.centered(), samples, k_w);
    for (const F& g : claims.bias_gradients[i]) r.weights_changed += step_moves(g.centered(), samples, k_b);
    r.weights_total += claims.weight_gradients[i].size() + claims.bias_gradients[i].size();
    double sq = 0;
    for (double v : real.weights[i]) sq += v * v;
    for (double v : real.biases[i]) sq += v * v;
    r.gradient_norms.push_back(std::sqrt(sq));
    s_y = s_z * s_z;
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

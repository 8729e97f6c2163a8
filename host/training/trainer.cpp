// SPDX-License-Identifier: Apache-2.0
#include "host/training/trainer.hpp"

#include <chrono>
#include <limits>
#include <numeric>
#include <string>

#include "host/training/backward.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/parallel.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/parameters.hpp"
#include "verifier/training/statement.hpp"
#include "verifier/training/step.hpp"

namespace nnproof {
namespace {

// SplitMix64 (Steele, Lea and Flood 2014): the state advances by the golden gamma, the output is
// the state mixed.
constexpr std::uint64_t kGamma = 0x9E3779B97F4A7C15ull;
std::uint64_t splitmix64_next(std::uint64_t& state) {
  std::uint64_t z = (state += kGamma);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Weights stay below 2^62 in magnitude, as the quantizer keeps them (int64 storage with room);
// biases below 2^126, as the quantizer's.
constexpr i128 kWeightLimit = i128{1} << 62, kBiasLimit = i128{1} << 126;

std::string position(std::size_t layer, std::size_t a, std::optional<std::size_t> j = std::nullopt) {
  return "layer " + std::to_string(layer) +
         (j ? " weight [" + std::to_string(a) + "][" + std::to_string(*j) + "]" : " bias [" + std::to_string(a) + "]");
}

[[noreturn]] void diverged(const std::string& where) {
  throw TrainingError(where +
                      " would leave the range nnproof stores exactly after this step (training diverged); use a "
                      "smaller --lr");
}

// A structured layer's trained ops stepped by their part of G (parameters.hpp's order); pools are
// kept. Entry t of op k is reported as "layer i op k weight [t]".
template <class F>
std::vector<LinearOp> step_ops(const QuantizedLayer& l, std::size_t layer, const std::vector<F>& G, std::size_t n,
                               int exponent, std::size_t& changed) {
  std::vector<LinearOp> out;
  std::size_t offset = 0;
  for (std::size_t k = 0; k < l.ops.size(); ++k) {
    const LinearOp& op = l.ops[k];
    if (!trained(op)) {
      out.push_back(op);
      continue;
    }
    std::vector<std::int64_t> w = op.weights.to_vector();
    for (std::size_t t = 0; t < w.size(); ++t) {
      const auto q = rdiv_pow2(static_cast<i128>(G[offset + t].centered()), n, exponent);
      if (q && *q == 0) continue;
      const i128 v = q ? static_cast<i128>(w[t]) - *q : kWeightLimit;
      if (v >= kWeightLimit || v <= -kWeightLimit)
        diverged("layer " + std::to_string(layer) + " op " + std::to_string(k + 1) + " weight [" + std::to_string(t) +
                 "]");
      w[t] = static_cast<std::int64_t>(v);
      ++changed;
    }
    offset += w.size();
    out.push_back(op.kind == LinearOp::Kind::dense ? LinearOp::dense(op.rows, op.cols, WeightMatrix(std::move(w)))
                                                   : LinearOp::convolution(op.conv, WeightMatrix(std::move(w))));
  }
  return out;
}

// The step of TRAINING.md section 3 on every layer, from the batch's exact gradients over n
// samples. All new values are computed before any is stored: a refused step leaves the model as
// it was. Returns how many weights and biases changed.
template <class F>
std::size_t apply_step(QuantizedModel& model, const TrainingClaims<F>& claims, std::size_t n, const StepExponents& k) {
  const std::size_t L = model.depth();
  std::vector<std::vector<std::int64_t>> weights(L);
  std::vector<std::vector<i128>> biases(L);
  std::vector<std::vector<LinearOp>> ops(L);
  std::size_t changed = 0;
  for (std::size_t i = 0; i < L; ++i) {
    const QuantizedLayer& l = model.layers[i];
    const std::vector<F>& G = claims.weight_gradients[i];
    if (l.structured()) ops[i] = step_ops(l, i + 1, G, n, k.weight, changed);
    std::vector<std::int64_t> w = l.structured() ? std::vector<std::int64_t>{} : l.weights.to_vector();
    // Per row: the first refused column (cols: none) and the count changed. No exception may leave
    // a parallel region, so refusals are collected and reported after it.
    const std::size_t dense_rows = l.structured() ? 0 : l.rows;
    std::vector<std::size_t> refused(dense_rows, l.cols), moved(dense_rows, 0);
    parallel_for(dense_rows, [&](std::size_t a) {
      for (std::size_t j = 0; j < l.cols; ++j) {
        const auto q = rdiv_pow2(static_cast<i128>(G[a * l.cols + j].centered()), n, k.weight);
        if (q && *q == 0) continue;
        const i128 v = q ? static_cast<i128>(w[a * l.cols + j]) - *q : kWeightLimit;
        if (v >= kWeightLimit || v <= -kWeightLimit) {
          refused[a] = j;
          return;
        }
        w[a * l.cols + j] = static_cast<std::int64_t>(v);
        ++moved[a];
      }
    });
    for (std::size_t a = 0; a < dense_rows; ++a)
      if (refused[a] < l.cols) diverged(position(i + 1, a, refused[a]));
    changed = std::accumulate(moved.begin(), moved.end(), changed);
    std::vector<i128> b = l.bias;
    for (std::size_t a = 0; a < l.rows; ++a) {
      const auto q = rdiv_pow2(static_cast<i128>(claims.bias_gradients[i][a].centered()), n, k.bias[i]);
      if (q && *q == 0) continue;
      i128 v = 0;
      if (!q || __builtin_sub_overflow(b[a], *q, &v) || v >= kBiasLimit || v <= -kBiasLimit)
        diverged(position(i + 1, a));
      b[a] = v;
      ++changed;
    }
    weights[i] = std::move(w);
    biases[i] = std::move(b);
  }
  for (std::size_t i = 0; i < L; ++i) {
    if (model.layers[i].structured())
      model.layers[i].ops = std::move(ops[i]);
    else
      model.layers[i].weights = WeightMatrix(std::move(weights[i]));  // the narrowest storage again
    model.layers[i].bias = std::move(biases[i]);
  }
  return changed;
}

i128 saturating_add(i128 a, i128 b) {
  i128 s = 0;
  if (__builtin_add_overflow(a, b, &s))
    return b > 0 ? std::numeric_limits<i128>::max() : std::numeric_limits<i128>::min();
  return s;
}

void check_data(const QuantizedModel& model, const TrainingData& data) {
  if (data.samples() == 0) throw TrainingError("the training set has no samples");
  if (data.input.size() != data.samples() * model.in_dim())
    throw TrainingError("the training set has " + std::to_string(data.input.size()) + " input values for " +
                        std::to_string(data.samples()) + " labels of " + std::to_string(model.in_dim()) + " features");
  for (std::size_t k = 0; k < data.samples(); ++k)
    if (data.labels[k] < 0 || static_cast<std::size_t>(data.labels[k]) >= model.out_dim())
      throw TrainingError("label " + std::to_string(data.labels[k]) + " of sample " + std::to_string(k) +
                          " is not a class of the model's " + std::to_string(model.out_dim()) + " outputs");
}

}  // namespace

std::vector<std::size_t> epoch_order(std::uint64_t seed, std::size_t epoch, std::size_t samples) {
  std::vector<std::size_t> order(samples);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (samples < 2) return order;
  std::uint64_t state = seed + static_cast<std::uint64_t>(epoch) * static_cast<std::uint64_t>(samples - 1) * kGamma;
  for (std::size_t i = samples - 1; i >= 1; --i) {
    const std::size_t j = static_cast<std::size_t>(splitmix64_next(state) % (i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

template <class Cfg>
std::size_t train(Engine<Cfg>& engine, QuantizedModel& model, const TrainingData& data, const TrainOptions& o,
                  const EpochFn& on_epoch, const ProgressFn& progress) {
  using F = typename Cfg::F;
  check_data(model, data);
  const std::int64_t s = target_scale(model);  // std::invalid_argument for a fractional output scale
  const StepExponents k = step_exponents(model, o.lr_exponent);
  const std::size_t N = data.samples(), n0 = model.in_dim(), classes = model.out_dim();
  const std::size_t B = o.batch == 0 || o.batch >= N ? N : o.batch, steps = (N + B - 1) / B;
  const u128 xmax = max_abs(data.input);
  const double scale = model.output_scale();
  for (std::size_t e = 0; e < o.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    // Full batch: the sum over the batch does not depend on the order, so the data's own is used.
    std::vector<std::size_t> order(N);
    if (B == N)
      std::iota(order.begin(), order.end(), std::size_t{0});
    else
      order = epoch_order(o.seed, e, N);
    EpochReport r;
    r.epoch = e + 1;
    std::size_t correct = 0;
    bool any_change = false;
    for (std::size_t t = 0; t < steps; ++t) {
      const std::size_t first = t * B, n = std::min(B, N - first);
      const MagnitudeProfile profile = magnitude_profile(model);
      const auto refuse = [&](const MagnitudeViolation& v) {
        return TrainingError(v.describe(Cfg::kId) + " in a training step of " + std::to_string(n) +
                             " samples: the field would wrap and the step would be wrong; " +
                             (Cfg::kId == FieldId::m127
                                  ? "use a smaller --batch or smaller --alpha / --beta"
                                  : "use --field m127, a smaller --batch or smaller --alpha / --beta"));
      };
      if (auto v = magnitude_violation(profile, xmax, Cfg::kId)) throw refuse(*v);
      if (progress)
        progress("epoch " + std::to_string(e + 1) + "/" + std::to_string(o.epochs) + ", step " + std::to_string(t + 1) +
                 "/" + std::to_string(steps));
      std::vector<F> input(n * n0);
      std::vector<std::int64_t> labels(n);
      for (std::size_t b = 0; b < n; ++b) {
        const std::size_t sample = order[first + b];
        for (std::size_t j = 0; j < n0; ++j) input[b * n0 + j] = F::from_int(data.input[sample * n0 + j]);
        labels[b] = data.labels[sample];
      }
      const auto layers = field_layers<F>(model);
      // The backward values' bound from this batch's exact outputs (the forward bound held), before
      // the backward pass computes them.
      auto trace = run_backward(engine, layers, input, labels, F::from_int(s), {}, [&](const std::vector<F>& outputs) {
        if (auto v = training_magnitude_violation(profile, model, xmax, s,
                                                  output_gradient_bounds(outputs, labels, classes, s), Cfg::kId))
          throw refuse(*v);
      });
      const auto claims = gradient_claims(engine, layers, trace);
      r.loss = saturating_add(r.loss, static_cast<i128>(claims.loss.centered()));
      const auto predicted = argmax_labels(claims.outputs, n, classes);
      for (std::size_t b = 0; b < n; ++b) correct += predicted[b] == labels[b] ? 1 : 0;
      r.weights_changed = apply_step(model, claims, n, k);
      any_change = any_change || r.weights_changed > 0;
      ++r.steps;
    }
    r.loss_float = static_cast<double>(r.loss) / (scale * scale * static_cast<double>(N));
    r.accuracy = static_cast<double>(correct) / static_cast<double>(N);
    r.converged = !any_change;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_epoch) on_epoch(r);
    if (r.converged) return e + 1;
  }
  return o.epochs;
}

#define NNP_INSTANTIATE(Cfg)                                                                                          \
  template std::size_t train(Engine<Cfg>&, QuantizedModel&, const TrainingData&, const TrainOptions&, const EpochFn&, \
                             const ProgressFn&);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof

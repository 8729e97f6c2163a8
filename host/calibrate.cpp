// SPDX-License-Identifier: Apache-2.0
#include "host/calibrate.hpp"

#include <cmath>

#include "host/quantize.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/magnitude.hpp"

namespace nnproof {
namespace {

// Accuracy saturates as beta grows (the paper's Table 1): after this many larger betas without a
// gain, the search moves on to the next alpha.
constexpr int kPatience = 3;

template <class F>
double log2_abs(F x) {
  const auto c = x.centered();
  return c == 0 ? -INFINITY : std::log2(static_cast<long double>(c < 0 ? -c : c));
}

// Runs the quantized network exactly (no wrap: the pair is feasible) and scores its argmax.
template <class Cfg>
void score(const QuantizedModel& q, const std::vector<std::int64_t>& input, std::size_t batch,
           const std::vector<std::int64_t>& labels, ScaleTrial& trial) {
  using F = typename Cfg::F;
  auto engine = make_cpu_engine<Cfg>();
  std::vector<F> x(input.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = F::from_int(input[i]);
  auto trace = run_forward(*engine, field_layers<F>(q), x, batch);
  for (auto& z : trace.Z) engine->to_host(z);
  double observed = -INFINITY;
  for (const F& v : x) observed = std::max(observed, log2_abs(v));
  for (std::size_t i = 0; i < trace.Z.size(); ++i) {  // Y_i = Z_i^2 doubles the bits of every Z_i but the last
    double z = -INFINITY;
    for (const F& v : trace.Z[i].data) z = std::max(z, log2_abs(v));
    observed = std::max(observed, i + 1 < trace.Z.size() ? 2 * z : z);
  }
  trial.observed_log2 = observed;
  const auto predicted = argmax_labels(trace_outputs(trace, q.out_dim()), batch, q.out_dim());
  std::size_t correct = 0;
  for (std::size_t k = 0; k < batch; ++k) correct += predicted[k] == labels[k];
  trial.accuracy = static_cast<double>(correct) / static_cast<double>(batch);
}

}  // namespace

ScaleSearch search_scales(const FloatModel& model, const NpyArray& calibration, const std::string& calibration_path,
                          const std::vector<std::int64_t>& labels, FieldId field, int max_exponent,
                          const ProgressFn& progress) {
  ScaleSearch search;
  const std::size_t batch = calibration.shape.empty() ? 0 : calibration.shape[0];
  if (labels.size() != batch)
    throw QuantizeError("the labels hold " + std::to_string(labels.size()) + " entries but " + calibration_path +
                        " holds " + std::to_string(batch) + " samples; pass one label per calibration sample");
  const std::size_t classes = model.layers.back().rows;
  for (std::size_t k = 0; k < labels.size(); ++k)
    if (labels[k] < 0 || static_cast<std::size_t>(labels[k]) >= classes)
      throw QuantizeError("label " + std::to_string(k) + " is " + std::to_string(labels[k]) + ", outside the model's " +
                          std::to_string(classes) + " classes; labels must be class indices");
  for (int a = 0; a <= max_exponent; ++a) {
    double best_for_alpha = -1;
    int stale = 0;  // betas in a row that did not beat best_for_alpha
    for (int e = 0; e <= max_exponent && stale < kPatience; ++e) {
      ScaleTrial t;
      t.alpha = std::ldexp(1.0, a);
      t.beta = std::ldexp(1.0, e);
      if (progress)
        progress("trying alpha=" + std::to_string(static_cast<long long>(t.alpha)) +
                 " beta=" + std::to_string(static_cast<long long>(t.beta)));
      QuantizedModel q;
      std::vector<std::int64_t> input;
      try {
        q = quantize_model(model, {t.alpha, t.beta});
        input = quantize_input(calibration, calibration_path, q);
      } catch (const QuantizeError& err) {  // float inputs at alpha = 1, or a value past 2^62
        t.why = a == 0 && q.depth() > 0 ? "the inputs are not integers, so alpha = 1 cannot hold them" : err.what();
        search.trials.push_back(t);
        break;
      }
      const MagnitudeProfile profile = magnitude_profile(q);  // O(nnz): once per pair
      const auto violation = magnitude_violation(profile, max_abs(input), field);
      if (violation) {
        t.worst_log2 = violation->log2_bound;
        t.why = violation->describe(field);
        search.trials.push_back(t);
        break;  // a larger beta only grows the bound
      }
      t.feasible = true;
      t.worst_log2 = worst_case_log2(profile, max_abs(input));
      if (field == FieldId::m127)
        score<M127>(q, input, batch, labels, t);
      else
        score<M61>(q, input, batch, labels, t);
      search.trials.push_back(t);
      const auto& best = search.best;
      if (!best || *t.accuracy > *search.trials[*best].accuracy) search.best = search.trials.size() - 1;
      stale = *t.accuracy > best_for_alpha ? 0 : stale + 1;
      best_for_alpha = std::max(best_for_alpha, *t.accuracy);
    }
  }
  return search;
}

}  // namespace nnproof

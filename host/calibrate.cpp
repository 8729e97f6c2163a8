// SPDX-License-Identifier: Apache-2.0
#include "host/calibrate.hpp"

#include <cmath>

#include "host/calibrate_forward.hpp"
#include "host/quantize.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/magnitude.hpp"

namespace nnproof {
namespace {

// A feasible pair's exact outputs: the argmax per sample, the outputs dequantized (row per
// sample) and the largest |value| seen.
struct ExactRun {
  std::vector<std::int64_t> predicted;
  std::vector<double> outputs;
  double observed_log2 = 0;
};

template <class F>
double log2_abs(F x) {
  const auto c = x.centered();
  return c == 0 ? -INFINITY : std::log2(static_cast<long double>(c < 0 ? -c : c));
}

// Pairs whose values pass 2^62 (m127 only) run in the field on the cpu engine (no wrap: the pair is
// feasible).
template <class Cfg>
ExactRun run_in_field(const QuantizedModel& q, const std::vector<std::int64_t>& input, std::size_t batch) {
  using F = typename Cfg::F;
  auto engine = make_cpu_engine<Cfg>();
  std::vector<F> x(input.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = F::from_int(input[i]);
  auto trace = run_forward(*engine, field_layers<F>(q), x, batch);
  for (auto& z : trace.Z) engine->to_host(z);
  ExactRun run;
  run.observed_log2 = -INFINITY;
  for (const F& v : x) run.observed_log2 = std::max(run.observed_log2, log2_abs(v));
  for (std::size_t i = 0; i < trace.Z.size(); ++i) {  // Y_i = Z_i^2 doubles the bits of every Z_i but the last
    double z = -INFINITY;
    for (const F& v : trace.Z[i].data) z = std::max(z, log2_abs(v));
    run.observed_log2 = std::max(run.observed_log2, i + 1 < trace.Z.size() ? 2 * z : z);
  }
  const std::vector<F> out = trace_outputs(trace, q.out_dim());
  run.predicted = argmax_labels(out, batch, q.out_dim());
  const double scale = q.output_scale();
  run.outputs.resize(out.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    run.outputs[i] = static_cast<double>(static_cast<long double>(out[i].centered()) / scale);
  return run;
}

// Everything else runs on the host in double / int64 (host/calibrate_forward.hpp): no field
// reductions, no engine tables.
ExactRun run_exact(const QuantizedModel& q, const std::vector<std::int64_t>& rows, std::size_t batch, FieldId field,
                   std::vector<CalibrationWorkspace>& ws) {
  auto exact = exact_forward_int64(q, rows, batch, ws);
  if (!exact) return field == FieldId::m127 ? run_in_field<M127>(q, rows, batch) : run_in_field<M61>(q, rows, batch);
  const std::size_t n = q.out_dim();
  const double scale = q.output_scale();
  ExactRun run;
  run.observed_log2 = exact->observed_log2;
  run.predicted.assign(batch, 0);
  run.outputs.resize(n * batch);
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t o = 0; o < n; ++o) {
      const std::int64_t v = exact->z[o * batch + k];
      run.outputs[k * n + o] = static_cast<double>(v) / scale;
      if (v > exact->z[static_cast<std::size_t>(run.predicted[k]) * batch + k])  // the first on ties
        run.predicted[k] = static_cast<std::int64_t>(o);
    }
  return run;
}

// The float model's outputs on the calibration batch and its argmax: computed once, the reference
// every pair's exact outputs are measured against.
struct FloatReference {
  std::vector<double> outputs;  // row per sample
  std::vector<std::int64_t> predicted;
  double sum_squares = 0;
};

FloatReference float_reference(const FloatModel& model, const NpyArray& x, std::size_t batch) {
  FloatReference ref{float_outputs(model, x), std::vector<std::int64_t>(batch, 0), 0};
  const std::size_t n = model.layers.back().rows;
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t o = 0; o < n; ++o) {
      ref.sum_squares += ref.outputs[k * n + o] * ref.outputs[k * n + o];
      if (ref.outputs[k * n + o] > ref.outputs[k * n + static_cast<std::size_t>(ref.predicted[k])])
        ref.predicted[k] = static_cast<std::int64_t>(o);
    }
  return ref;
}

void score(const ExactRun& run, const FloatReference& ref, const std::optional<std::vector<std::int64_t>>& labels,
           ScaleTrial& t) {
  const std::size_t batch = run.predicted.size();
  t.observed_log2 = run.observed_log2;
  double diff = 0;
  for (std::size_t i = 0; i < run.outputs.size(); ++i)
    diff += (run.outputs[i] - ref.outputs[i]) * (run.outputs[i] - ref.outputs[i]);
  t.output_error = std::sqrt(ref.sum_squares > 0 ? diff / ref.sum_squares : diff);
  std::size_t same = 0, correct = 0;
  for (std::size_t k = 0; k < batch; ++k) {
    same += run.predicted[k] == ref.predicted[k];
    if (labels) correct += run.predicted[k] == (*labels)[k];
  }
  t.agreement = static_cast<double>(same) / static_cast<double>(batch);
  if (labels) t.accuracy = static_cast<double>(correct) / static_cast<double>(batch);
}

void check_labels(const std::vector<std::int64_t>& labels, std::size_t batch, std::size_t classes,
                  const std::string& calibration_path) {
  if (labels.size() != batch)
    throw QuantizeError("the labels hold " + std::to_string(labels.size()) + " entries but " + calibration_path +
                        " holds " + std::to_string(batch) + " samples; pass one label per calibration sample");
  for (std::size_t k = 0; k < labels.size(); ++k)
    if (labels[k] < 0 || static_cast<std::size_t>(labels[k]) >= classes)
      throw QuantizeError("label " + std::to_string(k) + " is " + std::to_string(labels[k]) + ", outside the model's " +
                          std::to_string(classes) + " classes; labels must be class indices");
}

// Whether trial t beats the best so far. With labels: more accurate; on equal accuracy, closer to
// the float model's outputs; then a smaller worst-case magnitude. Without labels: closer to the
// float model's outputs. Remaining ties keep the earlier (smaller) pair.
bool better(const ScaleTrial& t, const ScaleSearch& s) {
  if (!s.best) return true;
  const ScaleTrial& b = s.trials[*s.best];
  if (s.by_labels && *t.accuracy != *b.accuracy) return *t.accuracy > *b.accuracy;
  if (*t.output_error != *b.output_error) return *t.output_error < *b.output_error;
  return s.by_labels && t.worst_log2 < b.worst_log2;
}

}  // namespace

ScaleSearch search_scales(const FloatModel& model, const NpyArray& calibration, const std::string& calibration_path,
                          const std::optional<std::vector<std::int64_t>>& labels, FieldId field, int max_exponent,
                          const ProgressFn& progress) {
  ScaleSearch search;
  search.by_labels = labels.has_value();
  const std::size_t batch = calibration.shape.empty() ? 0 : calibration.shape[0];
  if (labels) check_labels(*labels, batch, model.layers.back().rows, calibration_path);
  std::optional<FloatReference> ref;  // after the first pair has checked the calibration's shape
  std::size_t runs = 0;
  std::vector<CalibrationWorkspace> workspaces;
  for (int a = 0; a <= max_exponent; ++a) {
    std::vector<std::int64_t> rows;  // the batch quantized at this alpha, shared by every beta
    u128 max_input = 0;              // and its largest magnitude (0 until computed)
    for (int e = 0; e <= max_exponent; ++e) {
      ScaleTrial t;
      t.alpha = std::ldexp(1.0, a);
      t.beta = std::ldexp(1.0, e);
      if (progress)
        progress("quantize: alpha=2^" + std::to_string(a) + " beta=2^" + std::to_string(e) + ", " +
                 std::to_string(runs) + " pairs run");
      QuantizedModel q;
      try {
        q = quantize_model(model, {t.alpha, t.beta});
        if (rows.empty()) rows = quantize_input(calibration, calibration_path, q);
      } catch (const QuantizeError& err) {  // float inputs at alpha = 1, or a value past 2^62
        const bool inputs = a == 0 && q.depth() > 0;
        t.cause = inputs ? ScaleTrial::Cause::non_integer_inputs : ScaleTrial::Cause::quantization;
        t.why = inputs ? "the inputs are not integers, so alpha = 1 cannot hold them" : err.what();
        search.trials.push_back(t);
        break;
      }
      if (max_input == 0) max_input = max_abs(rows);
      const MagnitudeProfile profile = magnitude_profile(q);  // O(nnz): once per pair
      const auto violation = magnitude_violation(profile, max_input, field);
      if (violation) {
        t.cause = ScaleTrial::Cause::wraps;
        t.worst_log2 = violation->log2_bound;
        t.why = violation->describe(field);
        search.trials.push_back(t);
        break;  // a larger beta only grows the bound
      }
      t.feasible = true;
      t.worst_log2 = worst_case_log2(profile, max_input);
      if (!ref) ref = float_reference(model, calibration, batch);
      score(run_exact(q, rows, batch, field, workspaces), *ref, labels, t);
      ++runs;
      search.trials.push_back(t);
      if (better(t, search)) search.best = search.trials.size() - 1;
    }
  }
  return search;
}

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#include "host/cli/training_common.hpp"

#include <fmt/core.h>

#include <cmath>

#include "host/npy.hpp"
#include "verifier/training/bundle.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/step.hpp"

namespace nnproof::cli {

std::vector<std::int64_t> read_labels(const std::string& path, std::size_t samples, std::size_t classes) {
  const NpyArray y = read_npy(path);
  const bool column = y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1);
  if (!y.is_integer() || !column)
    throw UsageError(path + ": labels must be an integer array of shape (N,); save numpy int64 class indices");
  if (y.integers.size() != samples)
    throw UsageError(path + ": holds " + std::to_string(y.integers.size()) + " labels for " + std::to_string(samples) +
                     " samples; give one label per row of --data");
  for (std::size_t k = 0; k < samples; ++k)
    if (y.integers[k] < 0 || static_cast<std::size_t>(y.integers[k]) >= classes)
      throw UsageError(path + ": label " + std::to_string(k) + " is " + std::to_string(y.integers[k]) +
                       ", outside [0, " + std::to_string(classes) +
                       "), the model's classes; labels must be class indices");
  return y.integers;
}

TrainingProblem load_training_problem(const std::string& model_path, const std::string& data_path,
                                      const std::string& labels_path, const ScaleChoice& scales) {
  TrainingProblem tp;
  tp.problem = load_problem(model_path, data_path, scales);
  try {  // the one-hot target's value and the exact step's exponents need power-of-two scales
    (void)target_scale(tp.problem.model);
    (void)step_exponents(tp.problem.model, kDefaultLrExponent);
  } catch (const std::invalid_argument& e) {
    throw UsageError(model_path + ": " + e.what());
  }
  tp.labels = read_labels(labels_path, tp.problem.batch, tp.problem.model.out_dim());
  return tp;
}

std::uint32_t learning_rate_exponent(const std::optional<double>& lr, std::string& note) {
  note.clear();
  if (!lr) return kDefaultLrExponent;
  if (!(*lr > 0) || *lr > 1 || !std::isfinite(*lr))
    throw UsageError("--lr must be in (0, 1]; it is rounded to a power of two");
  const double e = std::round(-std::log2(*lr));
  if (e > kMaxLrExponent) throw UsageError("--lr is below 2^-64; every step would round to nothing");
  if (std::exp2(-e) != *lr) note = fmt::format("learning rate {} rounded to 2^-{} = {}", *lr, e, std::exp2(-e));
  return static_cast<std::uint32_t>(e);
}

namespace {

void refuse_wrap(const std::optional<MagnitudeViolation>& v, FieldId field) {
  if (v)
    throw UsageError(v->describe(field) + ": the field could wrap; " +
                     (field == FieldId::m127 ? "use fewer samples or smaller scales (nnproof quantize)"
                                             : "use --field m127, fewer samples or smaller scales"));
}

}  // namespace

MagnitudeProfile check_training_magnitudes(const TrainingProblem& tp, FieldId field) {
  MagnitudeProfile profile = magnitude_profile(tp.problem.model);
  refuse_wrap(magnitude_violation(profile, max_abs(tp.problem.input), field), field);
  return profile;
}

void check_training_magnitudes(const TrainingProblem& tp, const MagnitudeProfile& profile, FieldId field,
                               const OutputGradientBounds& outputs) {
  const QuantizedModel& m = tp.problem.model;
  refuse_wrap(training_magnitude_violation(profile, m, max_abs(tp.problem.input), target_scale(m), outputs, field),
              field);
}

}  // namespace nnproof::cli

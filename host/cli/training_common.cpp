// SPDX-License-Identifier: Apache-2.0
#include "host/cli/training_common.hpp"

#include <cmath>

#include "host/npy.hpp"
#include "verifier/training/magnitude.hpp"

namespace nnproof::cli {

TrainingProblem load_training_problem(const std::string& model_path, const std::string& data_path,
                                      const std::string& labels_path) {
  TrainingProblem tp;
  tp.problem = load_problem(model_path, data_path, {});
  for (std::size_t i = 0; i < tp.problem.model.depth(); ++i)
    if (tp.problem.model.layers[i].structured())
      throw UsageError(model_path + ": layer " + std::to_string(i + 1) +
                       " is a convolution or pooling; training supports dense layers only for now");
  try {
    (void)target_scale(tp.problem.model);
  } catch (const std::invalid_argument& e) {
    throw UsageError(model_path + ": " + e.what());
  }
  const NpyArray y = read_npy(labels_path);
  const std::size_t classes = tp.problem.model.out_dim();
  if (!y.is_integer() || y.shape.size() != 1)
    throw UsageError(labels_path + ": labels must be a 1-D integer array (int32 or int64) of class indices");
  if (y.shape[0] != tp.problem.batch)
    throw UsageError(labels_path + ": " + std::to_string(y.shape[0]) + " labels for " +
                     std::to_string(tp.problem.batch) + " samples in " + data_path);
  for (std::size_t k = 0; k < y.integers.size(); ++k)
    if (y.integers[k] < 0 || static_cast<std::size_t>(y.integers[k]) >= classes)
      throw UsageError(labels_path + ": label " + std::to_string(y.integers[k]) + " of sample " + std::to_string(k) +
                       " is outside [0, " + std::to_string(classes) + "), the model's classes");
  tp.labels = y.integers;
  return tp;
}

std::uint32_t learning_rate_exponent(double lr, std::string& note) {
  if (!(lr > 0 && lr <= 1)) throw UsageError("--lr must be in (0, 1]");
  const double e = std::round(-std::log2(lr));
  if (e > 64) throw UsageError("--lr is below 2^-64");
  note = std::exp2(-e) == lr ? ""
                             : "learning rate " + std::to_string(lr) + " rounded to 2^-" +
                                   std::to_string(static_cast<int>(e)) + " (the exact step needs a power of two)";
  return static_cast<std::uint32_t>(e);
}

void check_training_magnitudes(const TrainingProblem& tp, FieldId field) {
  const QuantizedModel& m = tp.problem.model;
  if (auto v = training_magnitude_violation(magnitude_profile(m), m, max_abs(tp.problem.input), tp.problem.batch,
                                            target_scale(m), field))
    throw UsageError(v->describe(field) + ": the field could wrap; use --field m127, fewer samples or smaller scales");
}

}  // namespace nnproof::cli

// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the training commands share: the client's model, data and labels, loaded and checked, the
// learning rate as a power of two, and the statement in a field.
#include <cstdint>
#include <string>
#include <vector>

#include "host/cli/common.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof::cli {

// The learning rate when --lr is absent: 2^-6, small enough for the quadratic networks' steps to
// shrink the loss (README, "Training").
constexpr double kDefaultLearningRate = 0x1p-6;

struct TrainingProblem {
  Problem problem;                   // the model and the data (problem.input, problem.batch = N)
  std::vector<std::int64_t> labels;  // N classes in [0, n_L)
};

// Loads and quantizes the model and the data, and reads the labels: an integer .npy of N entries
// in [0, n_L) (UsageError naming the file otherwise). Dense layers only.
TrainingProblem load_training_problem(const std::string& model_path, const std::string& data_path,
                                      const std::string& labels_path);

// --lr as the exponent e of 2^-e, the nearest power of two; `note` says when it was rounded.
std::uint32_t learning_rate_exponent(double lr, std::string& note);

// Refuses (UsageError, exit 2) data whose training values could wrap `field`, naming the layer and
// quantity and the fix.
void check_training_magnitudes(const TrainingProblem& tp, FieldId field);

template <class Cfg>
TrainingStatement<Cfg> make_training_statement(const TrainingProblem& tp, std::uint32_t lr_exponent) {
  TrainingStatement<Cfg> st;
  st.model = &tp.problem.model;
  st.model_digest = tp.problem.model_digest;
  st.samples = tp.problem.batch;
  st.input = to_field<typename Cfg::F>(tp.problem.input);
  st.labels = tp.labels;
  st.lr_exponent = lr_exponent;
  return st;
}

}  // namespace nnproof::cli

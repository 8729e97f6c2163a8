// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the training commands share: the client's model, data and labels, loaded and checked, the
// learning rate as a power of two, and the statement in a field.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "host/cli/common.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof::cli {

// The learning rate when --lr is absent, 2^-6: on the quadratic networks nnproof proves (squared
// activations make the loss surface steep), larger rates diverged on the examples tried, and
// smaller ones round most steps to zero at 8-bit weight scales.
constexpr std::uint32_t kDefaultLrExponent = 6;

struct TrainingProblem {
  Problem problem;                   // the model and the data (problem.input, problem.batch = N)
  std::vector<std::int64_t> labels;  // N classes in [0, n_L)
};

// N class indices in [0, classes): an integer .npy of shape (N,) or (N, 1); UsageError naming the
// file otherwise.
std::vector<std::int64_t> read_labels(const std::string& path, std::size_t samples, std::size_t classes);

// Loads and quantizes the model and the data, and reads the labels. An integer output scale (the
// one-hot target's value) and power-of-two gains; dense and structured layers alike.
TrainingProblem load_training_problem(const std::string& model_path, const std::string& data_path,
                                      const std::string& labels_path, const ScaleChoice& scales = {});

// --lr as the exponent e of eta = 2^-e, the nearest power of two in log scale (kDefaultLrExponent
// when absent); `note` says when it was rounded, else stays empty.
std::uint32_t learning_rate_exponent(const std::optional<double>& lr, std::string& note);

// Refuses (UsageError, exit 2) data whose training values could wrap `field`, naming the layer and
// quantity and the fix: the forward pass's bound (before any work). Returns the model's magnitude
// profile (O(nnz)), which the backward values' check below reuses.
MagnitudeProfile check_training_magnitudes(const TrainingProblem& tp, FieldId field);
// The same with the outputs Z_L of the computation (outputs_of): the backward values' bound too, as
// the verifier checks them. `profile` is the one the forward check returned.
void check_training_magnitudes(const TrainingProblem& tp, const MagnitudeProfile& profile, FieldId field,
                               const OutputGradientBounds& outputs);

// The backward values' check as prove_training_bundle's OutputsCheck: it runs on the outputs of the
// forward pass, before the gradients' work, so a batch whose bundle verify-training would reject is
// refused early. `tp` and `profile` (check_training_magnitudes') must outlive the returned function.
template <class F>
std::function<void(const std::vector<F>&)> backward_magnitude_check(const TrainingProblem& tp,
                                                                    const MagnitudeProfile& profile, FieldId field) {
  return [&tp, &profile, field](const std::vector<F>& outputs) {
    const OutputGradientBounds b =
        output_gradient_bounds(outputs, tp.labels, tp.problem.model.out_dim(), target_scale(tp.problem.model));
    check_training_magnitudes(tp, profile, field, b);
  };
}

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

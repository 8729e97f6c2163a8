// SPDX-License-Identifier: Apache-2.0
#pragma once
// The worst-case magnitude bound of PROTOCOL.md section 7 extended to training's backward pass
// (TRAINING.md section 2): the target T, the loss L, every D_i = dL/dZ_i, E_i = dL/dY_i = W_{i+1}^T
// D_{i+1}, G_i = dL/dW_i and g_i = dL/dB_i. The field's results are the integers' only while none of
// them can reach (p - 1) / 2: the trainer and the training prover refuse, and the verifier rejects,
// a field that could wrap.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// The bounds, each a sound upper bound in saturating u128 arithmetic (s = target_scale, N =
// samples, bZ_i and bY_i the forward bounds of magnitude_violation, bZ_i[a] per row, bY_0 =
// max_abs_input), per entry and per sample from bounds of D_L (docs/TRAINING_PROTOCOL.md,
// "Magnitudes"):
//   |E_{i-1}[j][k]| <= sum_a |W_i[a][j]| |D_i[a][k]|,   |D_{i-1}[j][k]| <= 2 bZ_{i-1}[j] |E_{i-1}[j][k]|,
//   |G_i[a][j]| <= (sum_k |D_i[a][k]|) bY_{i-1},   |g_i[a]| <= sum_k |D_i[a][k]|,
// carried as two vectors per layer (the max over k, the sum over k) since every step is a
// nonnegative linear map of the sample's |D_L|. A structured layer's G and E are bounded entrywise
// through its ops (|G[p]| <= sum over p's uses of Vsum[a] |U[j]|, E = |W|^T V): magnitude.cpp's
// structured_backward. The worst case takes |D_L[o][k]| <= 2 (max bZ_L + s) for every k and
// L <= N n_L (max bZ_L + s)^2; the data-dependent form takes L and the two vectors of D_L exactly
// from the outputs Z_L (output_gradient_bounds).
// Returns the first quantity (the forward's first, then the backward pass in the order it is
// computed, layer L down to 1) that could exceed (p - 1) / 2 of `field`, or nothing. `profile` is
// magnitude_profile(model). O(nnz) per layer.
struct TrainingBound {
  std::size_t layer = 0;
  std::string where;  // "backward D (dL/dZ)", "weight gradient G (dL/dW)", ...
  u128 bound = 0;     // saturates at 2^128 - 1
};

// Every backward quantity's bound above, in the order the pass computes them: the target, the
// loss, then from layer L down D_i, G_i, g_i and (i > 1) E_{i-1}. The forward's bounds are
// magnitude_violation's. The worst case, for any N samples with |x| <= max_abs_input.
std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::size_t samples,
                                                     std::int64_t target_scale);

std::optional<MagnitudeViolation> training_magnitude_violation(const MagnitudeProfile& profile,
                                                               const QuantizedModel& model, u128 max_abs_input,
                                                               std::size_t samples, std::int64_t target_scale,
                                                               FieldId field);

// What the outputs Z_L (N x n_L, row per sample, as centered integers) and labels give exactly:
// the loss sum (Z_L - T)^2 and, per class o, max_k and sum_k of |D_L[o][k]| = 2 |Z_L - T|. These
// are the integers' whenever the forward bound holds (|Z_L| < p / 2), so a verifier may take them
// from the claimed outputs: a proof that verifies has claimed the true Z_L (and one that does not
// is rejected whatever the bound says). O(N n_L).
struct OutputGradientBounds {
  std::vector<u128> max, sum;  // per class
  u128 loss = 0;               // saturating
};
OutputGradientBounds output_gradient_bounds(const std::vector<i128>& outputs, const std::vector<std::int64_t>& labels,
                                            std::size_t classes, std::int64_t target_scale);
template <class F>
OutputGradientBounds output_gradient_bounds(const std::vector<F>& outputs, const std::vector<std::int64_t>& labels,
                                            std::size_t classes, std::int64_t target_scale) {
  std::vector<i128> z(outputs.size());
  for (std::size_t t = 0; t < z.size(); ++t) z[t] = outputs[t].centered();
  return output_gradient_bounds(z, labels, classes, target_scale);
}

// The same bounds with the loss and D_L exact (no N: the batch is the outputs').
std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::int64_t target_scale,
                                                     const OutputGradientBounds& outputs);

std::optional<MagnitudeViolation> training_magnitude_violation(const MagnitudeProfile& profile,
                                                               const QuantizedModel& model, u128 max_abs_input,
                                                               std::int64_t target_scale,
                                                               const OutputGradientBounds& outputs, FieldId field);

}  // namespace nnproof

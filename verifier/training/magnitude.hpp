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
// samples, bZ_i and bY_i the forward bounds of magnitude_violation, bY_0 = max_abs_input):
//   |T| <= s,   |D_L| <= 2 (bZ_L + s),   L <= N n_L (bZ_L + s)^2,
//   |G_i| <= N max|D_i| bY_{i-1},   |g_i| <= N max|D_i|,
//   |E_{i-1}| <= max_j (sum_a |W_i[a][j]|) max|D_i|,   |D_{i-1}| <= 2 bZ_{i-1} max|E_{i-1}|.
// Returns the first quantity (the forward's first, then the backward pass in the order it is
// computed, layer L down to 1) that could exceed (p - 1) / 2 of `field`, or nothing. `profile` is
// magnitude_profile(model). O(nnz) for the column sums. A structured layer's G and E are bounded
// entrywise through its ops (|G[p]| <= N sum over p's uses of |V[a]| |U[j]|, |E| <= |W|^T max|D|):
// magnitude.cpp's structured_bounds.
struct TrainingBound {
  std::size_t layer = 0;
  std::string where;  // "backward D (dL/dZ)", "weight gradient G (dL/dW)", ...
  u128 bound = 0;     // saturates at 2^128 - 1
};

// Every backward quantity's bound above, in the order the pass computes them: the target, the
// loss, then from layer L down D_i, G_i, g_i and (i > 1) E_{i-1}. The forward's bounds are
// magnitude_violation's.
std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::size_t samples,
                                                     std::int64_t target_scale);

std::optional<MagnitudeViolation> training_magnitude_violation(const MagnitudeProfile& profile,
                                                               const QuantizedModel& model, u128 max_abs_input,
                                                               std::size_t samples, std::int64_t target_scale,
                                                               FieldId field);

}  // namespace nnproof

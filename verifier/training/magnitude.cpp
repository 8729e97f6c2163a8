// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/magnitude.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace nnproof {
namespace {

u128 sat_mul(u128 a, u128 b) { return a != 0 && b > ~u128{0} / a ? ~u128{0} : a * b; }
u128 sat_add(u128 a, u128 b) { return a > ~u128{0} - b ? ~u128{0} : a + b; }

u128 abs_u128(std::int64_t x) { return x < 0 ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x); }

// max_j sum_a |W[a][j]|: the largest |E[j]| per unit of max|D| (E = W^T D reads W by columns).
// Exact in u128 (fewer than 2^31 rows of |w| <= 2^63).
u128 max_column_abs_sum(const QuantizedLayer& l) {
  std::vector<u128> cols(l.cols, 0);
  l.weights.visit([&](const auto* w) {
    for (std::size_t a = 0; a < l.rows; ++a)
      for (std::size_t j = 0; j < l.cols; ++j) cols[j] += abs_u128(static_cast<std::int64_t>(w[a * l.cols + j]));
  });
  return cols.empty() ? 0 : *std::max_element(cols.begin(), cols.end());
}

double log2_u128(u128 x) { return std::log2(static_cast<long double>(x)); }

}  // namespace

std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::size_t samples,
                                                     std::int64_t target_scale) {
  for (const QuantizedLayer& l : model.layers)
    if (l.structured()) throw std::invalid_argument("training supports dense layers only for now");
  const std::size_t L = model.depth();
  if (L == 0 || profile.row_abs_sums.size() != L)
    throw std::logic_error("training_magnitude_bounds: the profile is of another model");
  // The forward bounds of magnitude_violation, kept per layer: bY[i] bounds Y_i (bY[0] the input),
  // bZ[i] bounds Z_i.
  std::vector<u128> bY{max_abs_input}, bZ{0};
  for (std::size_t i = 0; i < L; ++i) {
    u128 z = 0;
    for (std::size_t a = 0; a < profile.row_abs_sums[i].size(); ++a)
      z = std::max(z, sat_add(sat_mul(profile.row_abs_sums[i][a], bY.back()), profile.bias_abs[i][a]));
    bZ.push_back(z);
    bY.push_back(sat_mul(z, z));
  }
  std::vector<TrainingBound> out;
  const u128 s = abs_u128(target_scale), N = samples;
  out.push_back({L, "target (one-hot at s_Z(L))", s});
  const u128 error = sat_add(bZ[L], s);  // |Z_L - T|
  out.push_back({L, "loss (sum of squared errors)", sat_mul(sat_mul(N, model.out_dim()), sat_mul(error, error))});
  u128 d = sat_mul(2, error);  // max |D_i|, from i = L down
  for (std::size_t i = L; i >= 1; --i) {
    out.push_back({i, "backward D (dL/dZ)", d});
    out.push_back({i, "weight gradient G (dL/dW)", sat_mul(sat_mul(N, d), bY[i - 1])});
    out.push_back({i, "bias gradient g (dL/dB)", sat_mul(N, d)});
    if (i == 1) break;
    const u128 e = sat_mul(max_column_abs_sum(model.layers[i - 1]), d);
    out.push_back({i - 1, "backward E (dL/dY)", e});
    d = sat_mul(sat_mul(2, bZ[i - 1]), e);
  }
  return out;
}

std::optional<MagnitudeViolation> training_magnitude_violation(const MagnitudeProfile& profile,
                                                               const QuantizedModel& model, u128 max_abs_input,
                                                               std::size_t samples, std::int64_t target_scale,
                                                               FieldId field) {
  const auto bounds = training_magnitude_bounds(profile, model, max_abs_input, samples, target_scale);
  // The forward pass first, under the inference bound's own names.
  if (auto v = magnitude_violation(profile, max_abs_input, field)) return v;
  const u128 limit = field == FieldId::m127 ? Fp127::P / 2 : static_cast<u128>(Fp61::P / 2);
  for (const TrainingBound& b : bounds)
    if (b.bound > limit) return MagnitudeViolation{b.layer, b.where, log2_u128(b.bound), log2_u128(limit)};
  return std::nullopt;
}

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/magnitude.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "verifier/training/parameters.hpp"

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

// fn(in_index, weight) for every weight of row `out` of the op (zeros included).
template <class Fn>
void for_each_weight(const LinearOp& op, std::size_t out, Fn&& fn) {
  if (op.kind == LinearOp::Kind::dense) {
    for (std::size_t j = 0; j < op.cols; ++j) fn(j, op.weights[out * op.cols + j]);
  } else {
    for_each_tap(op.conv, out, [&](std::size_t j, std::size_t t) { fn(j, op.weights[t]); });
  }
}

// |O| b: per output, a bound from per-input bounds b.
std::vector<u128> abs_apply(const LinearOp& op, const std::vector<u128>& b) {
  std::vector<u128> out(op.rows, 0);
  for (std::size_t a = 0; a < op.rows; ++a)
    for_each_weight(op, a,
                    [&](std::size_t j, std::int64_t w) { out[a] = sat_add(out[a], sat_mul(abs_u128(w), b[j])); });
  return out;
}

// |O|^T b: per input, a bound from per-output bounds b.
std::vector<u128> abs_apply_transpose(const LinearOp& op, const std::vector<u128>& b) {
  std::vector<u128> in(op.cols, 0);
  for (std::size_t a = 0; a < op.rows; ++a)
    for_each_weight(op, a, [&](std::size_t j, std::int64_t w) { in[j] = sat_add(in[j], sat_mul(abs_u128(w), b[a])); });
  return in;
}

u128 max_of(const std::vector<u128>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

// A structured layer's bounds from max|D_i| = d and max|Y_{i-1}| = y: per trained op, its
// gradient's largest entry over one sample (sum over the entry's uses of |V[a]| |U[j]|, with U the
// op's input and V its output gradient bounded entrywise through the chain), and E's largest
// entry (|W|^T pushed through every op). O(nnz).
struct StructuredBounds {
  u128 gradient = 0;  // per sample
  u128 e = 0;
};
StructuredBounds structured_bounds(const QuantizedLayer& l, u128 d, u128 y) {
  const std::size_t m = l.ops.size();
  std::vector<std::vector<u128>> U(m);
  U[0].assign(l.cols, y);
  for (std::size_t i = 1; i < m; ++i) U[i] = abs_apply(l.ops[i - 1], U[i - 1]);
  std::vector<u128> V(l.rows, d);
  StructuredBounds out;
  for (std::size_t i = m; i-- > 0;) {
    const LinearOp& op = l.ops[i];
    if (trained(op)) {
      std::vector<u128> g(op.weights.size(), 0);
      for (std::size_t a = 0; a < op.rows; ++a) {
        if (op.kind == LinearOp::Kind::dense) {
          for (std::size_t j = 0; j < op.cols; ++j)
            g[a * op.cols + j] = sat_add(g[a * op.cols + j], sat_mul(V[a], U[i][j]));
        } else {
          for_each_tap(op.conv, a, [&](std::size_t j, std::size_t t) { g[t] = sat_add(g[t], sat_mul(V[a], U[i][j])); });
        }
      }
      out.gradient = std::max(out.gradient, max_of(g));
    }
    V = abs_apply_transpose(op, V);
  }
  out.e = max_of(V);
  return out;
}

double log2_u128(u128 x) { return std::log2(static_cast<long double>(x)); }

}  // namespace

std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::size_t samples,
                                                     std::int64_t target_scale) {
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
    const QuantizedLayer& l = model.layers[i - 1];
    const StructuredBounds sb = l.structured() ? structured_bounds(l, d, bY[i - 1]) : StructuredBounds{};
    out.push_back({i, "backward D (dL/dZ)", d});
    out.push_back(
        {i, "weight gradient G (dL/dW)", l.structured() ? sat_mul(N, sb.gradient) : sat_mul(sat_mul(N, d), bY[i - 1])});
    out.push_back({i, "bias gradient g (dL/dB)", sat_mul(N, d)});
    if (i == 1) break;
    const u128 e = l.structured() ? sb.e : sat_mul(max_column_abs_sum(l), d);
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

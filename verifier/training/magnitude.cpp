// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/magnitude.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "core/saturating.hpp"
#include "verifier/training/parameters.hpp"

namespace nnproof {
namespace {

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
    for_each_weight(op, a, [&](std::size_t j, std::int64_t w) { out[a] = sat_add(out[a], sat_mul(abs128(w), b[j])); });
  return out;
}

// |O|^T b: per input, a bound from per-output bounds b.
std::vector<u128> abs_apply_transpose(const LinearOp& op, const std::vector<u128>& b) {
  std::vector<u128> in(op.cols, 0);
  for (std::size_t a = 0; a < op.rows; ++a)
    for_each_weight(op, a, [&](std::size_t j, std::int64_t w) { in[j] = sat_add(in[j], sat_mul(abs128(w), b[a])); });
  return in;
}

u128 max_of(const std::vector<u128>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

// A structured layer's bounds from per-output bounds of D_i (vmax[a] >= max_k |D_i[a][k]|,
// vsum[a] >= sum_k |D_i[a][k]|) and max|Y_{i-1}| = y: per trained op, its gradient's largest entry
// over the batch (sum over the entry's uses of Vsum[a] |U[j]|, with U the op's input and Vsum the
// op's output gradient summed over the batch, bounded entrywise through the chain), and E per input
// entry (|W|^T pushed through every op, from vmax for max_k |E| and from vsum for sum_k |E|). O(nnz).
struct LayerBackward {
  u128 gradient = 0;               // over the batch
  std::vector<u128> e_max, e_sum;  // per input entry j: max_k |E[j][k]|, sum_k |E[j][k]|
};
LayerBackward structured_backward(const QuantizedLayer& l, const std::vector<u128>& vmax, const std::vector<u128>& vsum,
                                  u128 y) {
  const std::size_t m = l.ops.size();
  std::vector<std::vector<u128>> U(m);
  U[0].assign(l.cols, y);
  for (std::size_t i = 1; i < m; ++i) U[i] = abs_apply(l.ops[i - 1], U[i - 1]);
  std::vector<u128> Vmax = vmax, Vsum = vsum;
  LayerBackward out;
  for (std::size_t i = m; i-- > 0;) {
    const LinearOp& op = l.ops[i];
    if (trained(op)) {
      std::vector<u128> g(op.weights.size(), 0);
      for (std::size_t a = 0; a < op.rows; ++a) {
        if (op.kind == LinearOp::Kind::dense) {
          for (std::size_t j = 0; j < op.cols; ++j)
            g[a * op.cols + j] = sat_add(g[a * op.cols + j], sat_mul(Vsum[a], U[i][j]));
        } else {
          for_each_tap(op.conv, a,
                       [&](std::size_t j, std::size_t t) { g[t] = sat_add(g[t], sat_mul(Vsum[a], U[i][j])); });
        }
      }
      out.gradient = std::max(out.gradient, max_of(g));
    }
    Vmax = abs_apply_transpose(op, Vmax);
    Vsum = abs_apply_transpose(op, Vsum);
  }
  out.e_max = std::move(Vmax);
  out.e_sum = std::move(Vsum);
  return out;
}

// A dense layer's: |G[a][j]| <= vsum[a] y, E = |W|^T v entrywise.
LayerBackward dense_backward(const QuantizedLayer& l, const std::vector<u128>& vmax, const std::vector<u128>& vsum,
                             u128 y) {
  LayerBackward out;
  out.gradient = sat_mul(max_of(vsum), y);
  out.e_max.assign(l.cols, 0);
  out.e_sum.assign(l.cols, 0);
  l.weights.visit([&](const auto* w) {
    for (std::size_t a = 0; a < l.rows; ++a)
      for (std::size_t j = 0; j < l.cols; ++j) {
        const u128 aw = abs128(static_cast<std::int64_t>(w[a * l.cols + j]));
        out.e_max[j] = sat_add(out.e_max[j], sat_mul(aw, vmax[a]));
        out.e_sum[j] = sat_add(out.e_sum[j], sat_mul(aw, vsum[a]));
      }
  });
  return out;
}

double log2_u128(u128 x) { return std::log2(static_cast<long double>(x)); }

// The forward bounds of magnitude_violation, kept per layer: bY[i] bounds Y_i (bY[0] the input),
// bZ[i][a] bounds row a of Z_i (its max is magnitude_violation's bound of Z_i).
struct ForwardBounds {
  std::vector<u128> bY;
  std::vector<std::vector<u128>> bZ;
};
ForwardBounds forward_bounds(const MagnitudeProfile& profile, std::size_t L, u128 max_abs_input) {
  ForwardBounds f{{max_abs_input}, {{}}};
  for (std::size_t i = 0; i < L; ++i) {
    std::vector<u128> z(profile.row_abs_sums[i].size());
    for (std::size_t a = 0; a < z.size(); ++a)
      z[a] = sat_add(sat_mul(profile.row_abs_sums[i][a], f.bY.back()), profile.bias_abs[i][a]);
    const u128 zmax = max_of(z);
    f.bZ.push_back(std::move(z));
    f.bY.push_back(sat_mul(zmax, zmax));
  }
  return f;
}

// The backward pass from per-class bounds of D_L (dmax[o] >= max_k |D_L[o][k]|, dsum[o] >= sum_k
// |D_L[o][k]|): every D_i, E_i bounded per entry and per sample (max over k), every G_i, g_i by the
// per-sample bounds summed over the batch. Each step is a nonnegative linear map of the per-sample
// bound of D_L, so it commutes with max_k (as an upper bound) and with sum_k (exactly).
void backward_bounds(const QuantizedModel& model, const ForwardBounds& f, std::vector<u128> dmax,
                     std::vector<u128> dsum, std::vector<TrainingBound>& out) {
  const std::size_t L = model.depth();
  for (std::size_t i = L; i >= 1; --i) {
    const QuantizedLayer& l = model.layers[i - 1];
    const LayerBackward lb =
        l.structured() ? structured_backward(l, dmax, dsum, f.bY[i - 1]) : dense_backward(l, dmax, dsum, f.bY[i - 1]);
    out.push_back({i, "backward D (dL/dZ)", max_of(dmax)});
    out.push_back({i, "weight gradient G (dL/dW)", lb.gradient});
    out.push_back({i, "bias gradient g (dL/dB)", max_of(dsum)});
    if (i == 1) break;
    out.push_back({i - 1, "backward E (dL/dY)", max_of(lb.e_max)});
    // D_{i-1} = 2 Z_{i-1} o E_{i-1}, entrywise.
    const std::vector<u128>& z = f.bZ[i - 1];
    dmax.assign(z.size(), 0);
    dsum.assign(z.size(), 0);
    for (std::size_t j = 0; j < z.size(); ++j) {
      dmax[j] = sat_mul(sat_mul(2, z[j]), lb.e_max[j]);
      dsum[j] = sat_mul(sat_mul(2, z[j]), lb.e_sum[j]);
    }
  }
}

std::vector<TrainingBound> bounds_from_output(const MagnitudeProfile& profile, const QuantizedModel& model,
                                              u128 max_abs_input, std::int64_t target_scale,
                                              const OutputGradientBounds* exact, std::size_t samples) {
  const std::size_t L = model.depth();
  if (L == 0 || profile.row_abs_sums.size() != L)
    throw std::logic_error("training_magnitude_bounds: the profile is of another model");
  const ForwardBounds f = forward_bounds(profile, L, max_abs_input);
  std::vector<TrainingBound> out;
  const u128 s = abs128(target_scale);
  out.push_back({L, "target (one-hot at s_Z(L))", s});
  if (exact) {
    if (exact->max.size() != model.out_dim() || exact->sum.size() != model.out_dim())
      throw std::logic_error("training_magnitude_bounds: the output bounds are of another model");
    out.push_back({L, "loss (sum of squared errors)", exact->loss});
    backward_bounds(model, f, exact->max, exact->sum, out);
  } else {
    const u128 error = sat_add(max_of(f.bZ[L]), s);  // |Z_L - T|
    const u128 N = samples, d = sat_mul(2, error);   // max |D_L|
    out.push_back({L, "loss (sum of squared errors)", sat_mul(sat_mul(N, model.out_dim()), sat_mul(error, error))});
    backward_bounds(model, f, std::vector<u128>(model.out_dim(), d), std::vector<u128>(model.out_dim(), sat_mul(N, d)),
                    out);
  }
  return out;
}

std::optional<MagnitudeViolation> first_violation(const MagnitudeProfile& profile, u128 max_abs_input,
                                                  const std::vector<TrainingBound>& bounds, FieldId field) {
  // The forward pass first, under the inference bound's own names.
  if (auto v = magnitude_violation(profile, max_abs_input, field)) return v;
  const u128 limit = field == FieldId::m127 ? Fp127::P / 2 : static_cast<u128>(Fp61::P / 2);
  for (const TrainingBound& b : bounds)
    if (b.bound > limit) return MagnitudeViolation{b.layer, b.where, log2_u128(b.bound), log2_u128(limit)};
  return std::nullopt;
}

}  // namespace

OutputGradientBounds output_gradient_bounds(const std::vector<i128>& outputs, const std::vector<std::int64_t>& labels,
                                            std::size_t classes, std::int64_t target_scale) {
  const std::size_t N = labels.size();
  if (outputs.size() != N * classes) throw std::logic_error("output_gradient_bounds: outputs are not N x n_L");
  OutputGradientBounds b;
  b.max.assign(classes, 0);
  b.sum.assign(classes, 0);
  for (std::size_t k = 0; k < N; ++k)
    for (std::size_t o = 0; o < classes; ++o) {
      // |Z| <= 2^126 (the forward bound in m127) and |T| < 2^63: the difference fits i128.
      const i128 t = labels[k] == static_cast<std::int64_t>(o) ? target_scale : 0;
      const i128 diff = outputs[k * classes + o] - t;
      const u128 e = diff < 0 ? static_cast<u128>(-(diff + 1)) + 1 : static_cast<u128>(diff);
      b.loss = sat_add(b.loss, sat_mul(e, e));
      const u128 d = sat_mul(2, e);
      b.max[o] = std::max(b.max[o], d);
      b.sum[o] = sat_add(b.sum[o], d);
    }
  return b;
}

std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::size_t samples,
                                                     std::int64_t target_scale) {
  return bounds_from_output(profile, model, max_abs_input, target_scale, nullptr, samples);
}

std::vector<TrainingBound> training_magnitude_bounds(const MagnitudeProfile& profile, const QuantizedModel& model,
                                                     u128 max_abs_input, std::int64_t target_scale,
                                                     const OutputGradientBounds& outputs) {
  return bounds_from_output(profile, model, max_abs_input, target_scale, &outputs, 0);
}

std::optional<MagnitudeViolation> training_magnitude_violation(const MagnitudeProfile& profile,
                                                               const QuantizedModel& model, u128 max_abs_input,
                                                               std::size_t samples, std::int64_t target_scale,
                                                               FieldId field) {
  return first_violation(profile, max_abs_input,
                         training_magnitude_bounds(profile, model, max_abs_input, samples, target_scale), field);
}

std::optional<MagnitudeViolation> training_magnitude_violation(const MagnitudeProfile& profile,
                                                               const QuantizedModel& model, u128 max_abs_input,
                                                               std::int64_t target_scale,
                                                               const OutputGradientBounds& outputs, FieldId field) {
  return first_violation(profile, max_abs_input,
                         training_magnitude_bounds(profile, model, max_abs_input, target_scale, outputs), field);
}

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#include "verifier/magnitude.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "core/saturating.hpp"

namespace nnproof {
namespace {

// sum_j |w[j]|, without saturation while cols < 2^32 (the ONNX importer refuses tensors of 2^31
// entries or more). Entries of 32 bits or less (|w| <= 2^31) sum in 64 bits, a loop the compiler
// vectorizes (in 128 bits, an int8 model's 12M weights took ~65 ms of every `nnproof verify`);
// int64 entries in 128.
template <class T>
u128 row_abs_sum(const T* w, std::size_t cols) {
  if constexpr (sizeof(T) <= 4) {
    std::uint64_t sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(w[j])));
    return sum;
  } else {
    u128 sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += abs128(w[j]);
    return sum;
  }
}

double log2_u128(u128 x) { return std::log2(static_cast<long double>(x)); }

// max_a sum_j |W_i[a][j]| bound + |B_i[a]|: the largest |Z_i| when |Y_{i-1}| <= bound.
u128 pre_activation_bound(const MagnitudeProfile& profile, std::size_t i, u128 bound) {
  u128 z = 0;
  for (std::size_t a = 0; a < profile.row_abs_sums[i].size(); ++a)
    z = std::max(z, sat_add(sat_mul(profile.row_abs_sums[i][a], bound), profile.bias_abs[i][a]));
  return z;
}

}  // namespace

MagnitudeProfile magnitude_profile(const QuantizedModel& model) {
  MagnitudeProfile p;
  for (const QuantizedLayer& l : model.layers) {
    std::vector<u128> rows(l.rows), bias(l.rows);
    // Sequential on purpose: `nnproof interactive` runs this before it forks the prover, and libgomp
    // is not fork-safe once it has started its threads. One pass over the weights, per model.
    if (l.structured())
      rows = chain_abs_row_bounds(l.ops);  // per channel: O(kernel entries), not O(positions x taps)
    else
      l.weights.visit([&](const auto* w) {
        for (std::size_t a = 0; a < l.rows; ++a) rows[a] = row_abs_sum(w + a * l.cols, l.cols);
      });
    for (std::size_t a = 0; a < l.rows; ++a) bias[a] = abs128(l.bias[a]);
    p.row_abs_sums.push_back(std::move(rows));
    p.bias_abs.push_back(std::move(bias));
  }
  return p;
}

std::optional<MagnitudeViolation> magnitude_violation(const MagnitudeProfile& profile, u128 max_abs_input,
                                                      FieldId field) {
  const u128 limit = field == FieldId::m127 ? Fp127::P / 2 : static_cast<u128>(Fp61::P / 2);
  const double limit_bits = log2_u128(limit);
  auto violation = [&](std::size_t layer, const char* where, u128 b) {
    return MagnitudeViolation{layer, where, log2_u128(b), limit_bits};
  };
  u128 bound = max_abs_input;  // max |Y_{i-1}| over the batch
  if (bound > limit) return violation(0, "input", bound);
  const std::size_t depth = profile.row_abs_sums.size();
  for (std::size_t i = 0; i < depth; ++i) {
    const u128 z = pre_activation_bound(profile, i, bound);
    if (z > limit) return violation(i + 1, "pre-activation", z);
    if (i + 1 < depth) {
      bound = sat_mul(z, z);
      if (bound > limit) return violation(i + 1, "activation (x*x)", bound);
    }
  }
  return std::nullopt;
}

double worst_case_log2(const MagnitudeProfile& profile, u128 max_abs_input) {
  u128 bound = max_abs_input, largest = max_abs_input;
  const std::size_t depth = profile.row_abs_sums.size();
  for (std::size_t i = 0; i < depth; ++i) {
    const u128 z = pre_activation_bound(profile, i, bound);
    largest = std::max(largest, z);
    if (i + 1 < depth) largest = std::max(largest, bound = sat_mul(z, z));
  }
  return log2_u128(largest);
}

std::string MagnitudeViolation::describe(FieldId field) const {
  std::ostringstream s;
  // The bound rounded up to two decimals: rounding to nearest printed "2^60 > 2^60" for a bound just
  // above the limit.
  s << std::fixed << std::setprecision(2);
  s << "layer " << layer << " " << where << " could reach 2^" << std::ceil(log2_bound * 100) / 100 << " > 2^"
    << std::setprecision(0) << std::round(log2_limit) << " in " << field_name(field);
  return s.str();
}

u128 max_abs(std::span<const std::int64_t> values) {
  u128 m = 0;
  for (auto x : values) m = std::max(m, abs128(x));
  return m;
}

}  // namespace nnproof

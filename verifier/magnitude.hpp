// SPDX-License-Identifier: Apache-2.0
#pragma once
// The worst-case magnitude bound of PROTOCOL.md section 7. The protocol proves the network's
// arithmetic in the field; the field result is the integer network's result only while no value
// can reach (p - 1) / 2. The prover refuses batches that could wrap; the verifier checks the same
// bound for the field the proof uses, since a dishonest prover may pick a field that wraps.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// Per-model data for the bound, O(nnz) to build once per model: per layer and row, sum_j |W[a][j]|
// and |B[a]| (saturating at 2^128 - 1).
struct MagnitudeProfile {
  std::vector<std::vector<u128>> row_abs_sums, bias_abs;
};

MagnitudeProfile magnitude_profile(const QuantizedModel& model);

struct MagnitudeViolation {
  std::size_t layer = 0;  // 0: the input itself
  std::string where;      // "input", "pre-activation", "activation (x*x)"
  double log2_bound = 0;
  double log2_limit = 0;
  std::string describe(FieldId field) const;  // "layer 2 activation (x*x) could reach 2^72.8 > 2^60 in m61"
};

// The first value that could reach (p - 1) / 2 for inputs bounded by max_abs_input, or nothing.
// O(sum of the layers' rows).
std::optional<MagnitudeViolation> magnitude_violation(const MagnitudeProfile& profile, u128 max_abs_input,
                                                      FieldId field);

// log2 of the largest value the bound allows anywhere in the network (input, pre-activations and
// activations), for reports such as `nnproof quantize`'s table.
double worst_case_log2(const MagnitudeProfile& profile, u128 max_abs_input);

u128 max_abs(std::span<const std::int64_t> values);

}  // namespace nnproof

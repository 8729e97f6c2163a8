// SPDX-License-Identifier: Apache-2.0
#pragma once
// Scale search for `nnproof quantize` (PROTOCOL.md section 7, the paper's Table 1): alpha and beta
// over powers of two, each pair quantized, checked against the field's worst-case bound for the
// calibration batch, and, when feasible, run exactly in the field to measure its accuracy.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/prover.hpp"

namespace nnproof {

struct ScaleTrial {
  double alpha = 1, beta = 1;
  bool feasible = false;                // every value stays below (p - 1) / 2 in the worst case
  double worst_log2 = 0;                // log2 of the worst-case bound's largest value
  std::optional<double> observed_log2;  // log2 of the largest |value| the batch produced (feasible only)
  std::optional<double> accuracy;       // of the exact quantized network's argmax (feasible only)
  std::string why;                      // for an infeasible pair: which value could wrap
};

struct ScaleSearch {
  std::vector<ScaleTrial> trials;   // in search order: alpha ascending, then beta ascending
  std::optional<std::size_t> best;  // the most accurate feasible pair (smaller scales on ties)
};

// Tries alpha = 2^a, beta = 2^e for a, e in [0, max_exponent]; for each alpha, beta grows until the
// bound fails (a larger beta only grows it) or three larger betas in a row bring no better accuracy. Labels are class
// indices, one per calibration sample. Throws QuantizeError / ModelError for unusable inputs (one line).
ScaleSearch search_scales(const FloatModel& model, const NpyArray& calibration, const std::string& calibration_path,
                          const std::vector<std::int64_t>& labels, FieldId field, int max_exponent,
                          const ProgressFn& progress = {});

}  // namespace nnproof

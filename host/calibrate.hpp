// SPDX-License-Identifier: Apache-2.0
#pragma once
// Scale search for `nnproof quantize` (PROTOCOL.md section 7, the paper's Table 1): alpha and beta
// over powers of two, each pair quantized, checked against the field's worst-case bound for the
// calibration batch, and, when feasible, run exactly to measure it: against the labels when there
// are labels, else against the float model's own outputs.
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
  bool feasible = false;  // every value stays below (p - 1) / 2 in the worst case
  // Why an infeasible pair is: that bound, inputs that are not integers at alpha = 1, or another
  // quantization error (a value past 2^62, a scale without an exact double form).
  enum class Cause { none, wraps, non_integer_inputs, quantization };
  Cause cause = Cause::none;
  double worst_log2 = 0;                // log2 of the worst-case bound's largest value
  std::optional<double> observed_log2;  // log2 of the largest |value| the batch produced (feasible only)
  std::optional<double> accuracy;       // of the exact network's argmax against the labels (feasible, labels only)
  // Feasible only: how far the exact outputs, dequantized, are from the float model's,
  // sqrt(sum (y - y')^2 / sum y'^2) over the batch (relative L2 error), and the fraction of samples
  // whose argmax is the float model's.
  std::optional<double> output_error, agreement;
  std::string why;  // for an infeasible pair: which value could wrap
};

struct ScaleSearch {
  std::vector<ScaleTrial> trials;   // in search order: alpha ascending, then beta ascending
  std::optional<std::size_t> best;  // see search_scales
  bool by_labels = true;            // best is the most accurate pair (ties: closest to the float model), else
                                    // the closest to the float model
};

// Tries alpha = 2^a, beta = 2^e for a, e in [0, max_exponent]; for each alpha, beta grows until the
// bound fails (a larger beta only grows it). Every feasible pair is run. With labels (class indices,
// one per calibration sample) the best pair is the most accurate; on equal accuracy the one whose
// outputs are closest to the float model's (smallest output_error), then the one with the smallest
// worst-case magnitude. Without labels the best is the one closest to the float model's outputs.
// Remaining ties keep the smaller pair (alpha, then beta). Throws QuantizeError / ModelError for
// unusable inputs (one line).
ScaleSearch search_scales(const FloatModel& model, const NpyArray& calibration, const std::string& calibration_path,
                          const std::optional<std::vector<std::int64_t>>& labels, FieldId field, int max_exponent,
                          const ProgressFn& progress = {});

}  // namespace nnproof

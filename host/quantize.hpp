// SPDX-License-Identifier: Apache-2.0
#pragma once
// Quantization (PROTOCOL.md section 7): float model and inputs to exact integers, and the
// worst-case magnitude check that refuses a batch that could wrap the field.
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// Bad scales, non-integer values at scale 1, or values too large to represent. One line.
struct QuantizeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A scale from the command line wins over the model's metadata; the default is 1, and then every
// value must already be an integer.
struct ScaleChoice {
  std::optional<double> alpha, beta;
};

// w = round(beta w'), B_i = round(s_Z(i) b'_i); round to nearest, ties away from zero.
QuantizedModel quantize_model(const FloatModel& model, const ScaleChoice& scales);

// x = round(alpha x') for a (b, n_0) array, row per sample.
std::vector<std::int64_t> quantize_input(const NpyArray& x, const std::string& path, const QuantizedModel& model);

// The worst-case magnitude of PROTOCOL.md section 7 for this batch: throws QuantizeError naming the
// first layer whose values could reach (p - 1) / 2, with the fix.
void check_magnitudes(const QuantizedModel& model, std::span<const std::int64_t> input, FieldId field);

}  // namespace nnproof

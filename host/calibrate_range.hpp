// SPDX-License-Identifier: Apache-2.0
#pragma once
// The calibration range: `nnproof quantize` records the smallest and largest calibration input in
// the model's metadata (nnproof.input_range); prove, verify and interactive warn, in one line and
// without failing, when an input batch lies far outside it (images in [0, 255] for a model
// calibrated on [0, 1], say), since the scales were chosen for that range.
#include <optional>
#include <string>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"

namespace nnproof {

// The smallest and largest value of x (0, 0 for an empty array). Non-finite values are left out:
// the quantizer refuses them with its own message.
InputRange input_range(const NpyArray& x);

// The warning for input x (read from `path`) and model m, or nothing when m records no range or x
// stays near it: every value within the recorded range widened by its width on both sides (by
// max(1, |bound|) when the range is one value).
std::optional<std::string> input_range_warning(const NpyArray& x, const std::string& path, const FloatModel& m);

}  // namespace nnproof

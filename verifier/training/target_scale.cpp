// SPDX-License-Identifier: Apache-2.0
// target_scale of verifier/training/statement.hpp: s_Z(L) as the exact integer the one-hot target
// holds (TRAINING.md section 2). Its own file: statement.cpp is the statement's encoding.
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "verifier/training/statement.hpp"

namespace nnproof {

std::int64_t target_scale(const QuantizedModel& model) {
  const double s = model.output_scale();
  // 2^62: the target and Z_L - T must stay exact integers far below either field's (p - 1) / 2, and
  // a double at most 2^62 that is an integer converts to int64 exactly.
  if (!(s >= 1 && s <= 0x1p62 && std::floor(s) == s)) {
    std::ostringstream msg;
    msg.precision(17);
    msg << "the model's output scale s_Z(L) = " << s
        << " is not an integer in [1, 2^62], so the one-hot target cannot be exact: quantize the model with "
           "power-of-two scales (`nnproof quantize`)";
    throw std::invalid_argument(msg.str());
  }
  return static_cast<std::int64_t>(s);
}

}  // namespace nnproof

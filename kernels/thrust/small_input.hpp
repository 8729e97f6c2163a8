// SPDX-License-Identifier: Apache-2.0
#pragma once
// The input as the small integers it is (ThrustEngine::input_table): a quantized input's values
// are centered integers of a few bits (8 for the TIMIT and image models), but the prover holds them
// as field elements of 8 (m61) or 16 (m127) bytes. The Thrust engine uploads each value in the
// fewest of 1, 2, 4 or 8 bytes that hold every value's centered form, and lifts them to field
// elements on the device (TransposeInput): 8 to 16 times fewer bytes cross for an 8-bit input.
// Host code, shared by both builds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "core/fields.hpp"

namespace nnproof {

// The bytes a two's complement integer needs to hold c: 1, 2, 4, 8 or 16.
inline unsigned centered_width(i128 c) {
  const auto fits = [c](auto limit) {
    using I = decltype(limit);
    return c >= std::numeric_limits<I>::min() && c <= std::numeric_limits<I>::max();
  };
  if (fits(std::int8_t{})) return 1;
  if (fits(std::int16_t{})) return 2;
  if (fits(std::int32_t{})) return 4;
  if (fits(std::int64_t{})) return 8;
  return 16;
}

// Each value's centered form, cut to I, into out[0, n) (all host threads), and the widest
// centered_width among them: out holds the values exactly when that is at most sizeof(I).
template <class I, class F>
unsigned narrow_input(const F* x, std::size_t n, I* out) {
  unsigned widest = 1;
#pragma omp parallel for schedule(static) reduction(max : widest)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i) {
    const i128 c = static_cast<i128>(x[i].centered());
    out[i] = static_cast<I>(c);  // modular (C++20): exact when c fits
    widest = std::max(widest, centered_width(c));
  }
  return widest;
}

}  // namespace nnproof

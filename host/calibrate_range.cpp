// SPDX-License-Identifier: Apache-2.0
#include "host/calibrate_range.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace nnproof {
namespace {

std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

InputRange input_range(const NpyArray& x) {
  InputRange r{INFINITY, -INFINITY};
  if (x.is_integer()) {
    for (const std::int64_t v : x.integers) {
      r.lo = std::min(r.lo, static_cast<double>(v));
      r.hi = std::max(r.hi, static_cast<double>(v));
    }
  } else {
    for (const double v : x.reals)
      if (std::isfinite(v)) {
        r.lo = std::min(r.lo, v);
        r.hi = std::max(r.hi, v);
      }
  }
  return r.lo <= r.hi ? r : InputRange{};
}

std::optional<std::string> input_range_warning(const NpyArray& x, const std::string& path, const FloatModel& m) {
  if (!m.input_range || x.size() == 0) return std::nullopt;
  const InputRange cal = *m.input_range, in = input_range(x);
  const double width = cal.hi > cal.lo ? cal.hi - cal.lo : std::max({1.0, std::fabs(cal.lo), std::fabs(cal.hi)});
  if (in.lo >= cal.lo - width && in.hi <= cal.hi + width) return std::nullopt;
  return "warning: " + path + ": the input spans [" + shortest(in.lo) + ", " + shortest(in.hi) + "] but " + m.path +
         " was calibrated on [" + shortest(cal.lo) + ", " + shortest(cal.hi) +
         "] (nnproof.input_range); scale the input as the calibration data was (e.g. images / 255), or "
         "quantize again with such data";
}

}  // namespace nnproof

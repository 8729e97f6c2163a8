// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the narrow-table tests share (test_narrow_table.cpp, test_narrow_kernels.cpp): a narrow
// table's widened copy, and the rows whose differences and extensions are at their largest.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/narrow_table.hpp"
#include "kernels/engine/table.hpp"

namespace nnproof::testing {

template <class F>
inline Table2D<F> widened(Table2D<F> t) {
  widen_narrow_table(t);
  return t;
}

// Entry k of row i of a group (rows z00, z01, z10, z11) at +-top with signs (-, +, +, -), flipped on
// odd k: every difference and extension the kernels form is at its largest (d_0 = 2 top, d_1 =
// -2 top, 2 a_1 - a_0 = 3 top, 2 d_1 - d_0 = -6 top, z11 - z01 - z10 + z00 = -4 top).
inline std::int32_t extreme_corner(std::size_t i, std::size_t k, std::int32_t top) {
  const bool up = (i == 1 || i == 2) != (k % 2 == 1);
  return up ? top : -top;
}

}  // namespace nnproof::testing

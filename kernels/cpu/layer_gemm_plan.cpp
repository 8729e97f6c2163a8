// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/layer_gemm_plan.hpp"

#include <algorithm>

#include "verifier/parallel.hpp"

namespace nnproof {

LimbPlan plan_layer_limbs(const QuantizedLayer& q, unsigned field_bits) {
  std::vector<u128> row_abs(q.rows);
  q.weights.visit([&](const auto* w) {
    parallel_for(q.rows, [&](std::size_t a) {
      u128 row = 0;
      for (std::size_t j = 0; j < q.cols; ++j) {
        const std::int64_t x = w[a * q.cols + j];
        row += x < 0 ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x);
      }
      row_abs[a] = row;
    });
  });
  const u128 max_row = row_abs.empty() ? 0 : *std::max_element(row_abs.begin(), row_abs.end());
  if (max_row >> 53) return {};  // no limb width makes DGEMM exact: the direct kernel
  return plan_limbs(static_cast<std::uint64_t>(max_row), field_bits);
}

LayerGemmPlan plan_layer(const QuantizedLayer& q, unsigned field_bits) {
  LayerGemmPlan c;
  c.plan = plan_layer_limbs(q, field_bits);
  if (c.plan.limb_bits) {  // exact in doubles: every |w| is below 2^53
    c.weights.resize(q.weights.size());
    q.weights.visit([&](const auto* w) {
      parallel_for(q.rows, [&](std::size_t a) {
        for (std::size_t j = 0; j < q.cols; ++j) c.weights[a * q.cols + j] = static_cast<double>(w[a * q.cols + j]);
      });
    });
  }
  return c;
}

}  // namespace nnproof

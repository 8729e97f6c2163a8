// SPDX-License-Identifier: Apache-2.0
#include "verifier/separable_conv.hpp"

namespace nnproof {

bool kernel_constant_over_window(const LinearOp& op) {
  const ConvShape& c = op.conv;
  const std::size_t window = c.kernel_h * c.kernel_w;
  return op.weights.visit([&](const auto* w) {
    for (std::size_t start = 0; start < c.kernel_size(); start += window)
      for (std::size_t t = 1; t < window; ++t)
        if (w[start + t] != w[start]) return false;
    return true;
  });
}

std::optional<std::size_t> separable_cost(std::span<const LinearOp> chain) {
  if (chain.empty()) return std::nullopt;
  for (std::size_t k = 0; k < chain.size(); ++k) {
    if (chain[k].kind != LinearOp::Kind::conv) return std::nullopt;
    if (k == 0) continue;
    const ConvShape &a = chain[k - 1].conv, &b = chain[k].conv;
    if (a.out_channels != b.in_channels || a.out_h() != b.in_h || a.out_w() != b.in_w) return std::nullopt;
  }
  if (!chain.front().conv.pow2_in || !chain.back().conv.pow2_out) return std::nullopt;
  // In 128 bits: U and V multiply by a kernel size per op, and the caller compares with its own cost.
  u128 U = 1, V = 1, cost = 0;
  for (std::size_t i = chain.size(); i-- > 0;) {
    const ConvShape& c = chain[i].conv;
    const bool fold = kernel_constant_over_window(chain[i]);
    const std::size_t window = fold ? 1 : c.kernel_h * c.kernel_w;
    cost += U * V * (c.kernel_size() / (c.kernel_h * c.kernel_w)) * window;  // the channel products
    cost += U * c.kernel_h * c.out_h() + V * c.kernel_w * c.out_w();         // the row and column shifts
    if (!fold) U *= c.kernel_h, V *= c.kernel_w;
    cost += U * V * c.in_channels;  // the new channel vectors
    if (cost > (u128{1} << 62)) return std::nullopt;
  }
  const ConvShape& f = chain.front().conv;
  cost += U * V * f.in_channels + U * f.in_h + V * f.in_w;  // the final dots
  return static_cast<std::size_t>(cost);
}

}  // namespace nnproof

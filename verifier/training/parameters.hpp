// SPDX-License-Identifier: Apache-2.0
#pragma once
// What training updates in a layer (TRAINING.md section 2): a dense layer's W_i; a structured
// layer's (convolutions, pools, chains) own ops' parameters, not the dense matrix they make. A sum
// pool (a depthwise kernel of ones: the importer's exact AveragePool) has no parameters; every
// other op's weights (dense entries row-major, kernel entries in ConvShape order) are trained, op
// after op in chain order. That concatenation is the layer's gradient vector G_i.
#include <algorithm>
#include <cstddef>

#include "verifier/model.hpp"

namespace nnproof {

// A fixed sum pool: one input channel per output channel and every kernel entry 1.
inline bool is_sum_pool(const LinearOp& op) {
  if (op.kind != LinearOp::Kind::conv) return false;
  const ConvShape& c = op.conv;
  if (c.groups != c.in_channels || c.in_channels != c.out_channels) return false;
  bool ones = true;
  op.weights.visit([&](const auto* w) { ones = std::all_of(w, w + op.weights.size(), [](auto x) { return x == 1; }); });
  return ones;
}

inline bool trained(const LinearOp& op) { return !is_sum_pool(op); }

// The layer's trained weights: rows x cols (dense) or the trained ops' weights together.
inline std::size_t layer_parameters(const QuantizedLayer& l) {
  if (!l.structured()) return l.rows * l.cols;
  std::size_t n = 0;
  for (const LinearOp& op : l.ops)
    if (trained(op)) n += op.weights.size();
  return n;
}

}  // namespace nnproof

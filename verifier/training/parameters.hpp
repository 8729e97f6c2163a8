// SPDX-License-Identifier: Apache-2.0
#pragma once
// What training updates in a layer (TRAINING.md section 2): a dense layer's W_i; a structured
// layer's (convolutions, pools, chains) own ops' parameters, not the dense matrix they make. An op
// the importer read as exact sum pooling (LinearOp::fixed: AveragePool, or a Conv with a 0/1 kernel
// and no bias) has no parameters; every other op's weights (dense entries row-major, kernel entries
// in ConvShape order) are trained, op after op in chain order, whatever their values (a trained
// depthwise kernel whose entries are all 1 is still trained). That concatenation is the layer's
// gradient vector G_i.
#include <cstddef>

#include "verifier/model.hpp"

namespace nnproof {

// A fixed sum pool: the importer's flag, never the weights' values.
inline bool is_sum_pool(const LinearOp& op) { return op.kind == LinearOp::Kind::conv && op.fixed; }

inline bool trained(const LinearOp& op) { return !op.fixed; }

// The layer's trained weights: rows x cols (dense) or the trained ops' weights together.
inline std::size_t layer_parameters(const QuantizedLayer& l) {
  if (!l.structured()) return l.rows * l.cols;
  std::size_t n = 0;
  for (const LinearOp& op : l.ops)
    if (trained(op)) n += op.weights.size();
  return n;
}

}  // namespace nnproof

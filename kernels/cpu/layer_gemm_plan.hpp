// SPDX-License-Identifier: Apache-2.0
#pragma once
// The dense forward pass's DGEMM route (cpu engine): which limb width makes a layer's product exact
// in doubles, and its weights as doubles.
#include <vector>

#include "kernels/cpu/limb_gemm.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// The weights as doubles and the widest exact limbs for them. Rebuilt per call (O(rows x cols),
// small next to the GEMM's O(rows x cols x batch)): nothing outlives the layer it was made from.
struct LayerGemmPlan {
  std::vector<double> weights;
  LimbPlan plan;
};

// The plan for q's weights in a field of field_bits bits: no limbs (limb_bits 0) when a row's
// absolute sum reaches 2^53, where no limb width makes DGEMM exact (the direct kernel then).
LayerGemmPlan plan_layer(const QuantizedLayer& q, unsigned field_bits);

// plan_layer's limbs alone (no doubles made): for the memory estimate of the DGEMM route.
LimbPlan plan_layer_limbs(const QuantizedLayer& q, unsigned field_bits);

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a client would otherwise run locally, for `nnproof bench --model`'s float_forward_s: the
// same network in float32 with oneDNN's inference primitives (convolution, average pooling, inner
// product; x*x as a post-op), in the layouts oneDNN picks, as PyTorch's CPU backend does.
#include <cstddef>
#include <functional>
#include <random>

#include "verifier/model.hpp"

namespace nnproof::cli {

// One float32 forward pass of `model` over `batch` random inputs, as a function to time. The
// weights are the model's integers as floats; a structured layer's ops run in order, a sum pool
// inside a chain as an average pool (the same work up to a constant), the bias and the activation
// after the chain's last op. Setup (primitive creation, weight repacking) happens here, once.
std::function<void()> float_forward_model(const QuantizedModel& model, std::size_t batch, std::mt19937_64& rng);

}  // namespace nnproof::cli

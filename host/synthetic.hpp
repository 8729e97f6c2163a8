// SPDX-License-Identifier: Apache-2.0
#pragma once
// Random networks shaped like quantized models, for `nnproof bench` and the tests.
#include <random>
#include <vector>

#include "core/fields.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// A uniformly random element of F or K (bias below 2^-64: 128 random bits per coordinate).
template <class T>
T random_element(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<T, Fp61x2>) {
    return Fp61x2{random_element<Fp61>(rng), random_element<Fp61>(rng)};
  } else {
    return T::from_u128((static_cast<u128>(rng()) << 64) | rng());
  }
}

// n integers uniform in [-max, max], drawn in order: the weights and biases of the networks here
// and of the tests' (tests/support/models.hpp).
inline std::vector<std::int64_t> random_ints(std::mt19937_64& rng, std::size_t n, std::int64_t max) {
  std::uniform_int_distribution<std::int64_t> d(-max, max);
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Layers dims[0] -> dims[1] -> ...; weights uniform in [-wmax, wmax], biases in [-bmax, bmax], drawn
// layer by layer (its weights row by row, then its biases): the seed names the network, and bench
// --json's proof_sha256 relies on that.
inline QuantizedModel synthetic_model(const std::vector<std::size_t>& dims, std::mt19937_64& rng, std::int64_t wmax,
                                      std::int64_t bmax) {
  QuantizedModel m;
  for (std::size_t i = 1; i < dims.size(); ++i) {
    QuantizedLayer l;
    l.rows = dims[i];
    l.cols = dims[i - 1];
    l.weights = random_ints(rng, l.rows * l.cols, wmax);
    const std::vector<std::int64_t> bias = random_ints(rng, l.rows, bmax);
    l.bias.assign(bias.begin(), bias.end());
    m.layers.push_back(std::move(l));
  }
  return m;
}

}  // namespace nnproof

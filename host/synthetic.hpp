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

// Layers dims[0] -> dims[1] -> ...; weights uniform in [-wmax, wmax], biases in [-bmax, bmax].
inline QuantizedModel synthetic_model(const std::vector<std::size_t>& dims, std::mt19937_64& rng, std::int64_t wmax,
                                      std::int64_t bmax) {
  std::uniform_int_distribution<std::int64_t> w(-wmax, wmax), b(-bmax, bmax);
  QuantizedModel m;
  for (std::size_t i = 1; i < dims.size(); ++i) {
    QuantizedLayer l;
    l.rows = dims[i];
    l.cols = dims[i - 1];
    std::vector<std::int64_t> weights(l.rows * l.cols);
    for (auto& x : weights) x = w(rng);
    l.weights = std::move(weights);
    for (std::size_t a = 0; a < l.rows; ++a) l.bias.push_back(b(rng));
    m.layers.push_back(std::move(l));
  }
  return m;
}

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// A training bundle (.nnpt) of the right sizes with random content (digests, claims, messages):
// what the format's tests, the CLI's inspect test and the fuzz seeds need, no prover involved.
#include <random>
#include <span>
#include <string>
#include <vector>

#include "host/synthetic.hpp"
#include "verifier/training/bundle.hpp"

namespace nnproof::testing {

template <class Cfg>
TrainingBundle<Cfg> random_training_bundle(const std::vector<std::size_t>& dims, std::size_t samples,
                                           std::mt19937_64& rng, const std::vector<LayerStructure>& structure = {}) {
  const TrainingShape shape{dims, samples, structure};
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  TrainingBundle<Cfg> b;
  TrainingBundleHeader& h = b.header;
  h.field = Cfg::kId;
  for (Digest* d : {&h.statement_digest, &h.model_binding, &h.data_binding})
    for (auto& byte : *d) byte = static_cast<unsigned char>(rng());
  h.lr_exponent = static_cast<std::uint32_t>(rng() % (kMaxLrExponent + 1));
  h.dims = dims;
  h.samples = samples;
  h.structure = structure;
  h.structured = !structure.empty();
  auto elements = [&](std::size_t n) {
    std::vector<F> v(n);
    for (auto& x : v) x = random_element<F>(rng);
    return v;
  };
  b.claims.loss = random_element<F>(rng);
  for (std::size_t i = 1; i < dims.size(); ++i) {
    b.claims.weight_gradients.push_back(elements(shape.parameters(i)));
    b.claims.bias_gradients.push_back(elements(dims[i]));
  }
  b.claims.outputs = elements(samples * dims.back());
  b.messages.resize(shape.message_count());
  for (auto& m : b.messages) m = random_element<K>(rng);
  return b;
}

// The parser's refusal of bytes for a trusted shape, or "(accepted)".
template <class Cfg>
std::string parse_error(std::span<const unsigned char> bytes, const TrainingShape& shape) {
  try {
    parse_training_bundle<Cfg>(bytes, shape);
  } catch (const ProofFormatError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace nnproof::testing

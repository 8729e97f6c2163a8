// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a training proof is about (TRAINING.md sections 2 and 5): the quantized model, the
// client's data and labels, the learning rate's exponent, and the server's claims: the exact loss,
// every weight and bias gradient, and the outputs Z_L. Byte layouts: docs/FORMAT.md.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/fields.hpp"
#include "verifier/model.hpp"
#include "verifier/training/computation.hpp"

namespace nnproof {

// Exact integers as (canonical) field elements; the magnitude bound says they did not wrap.
template <class F>
struct TrainingClaims {
  F loss{};
  std::vector<std::vector<F>> weight_gradients;  // G_i at index i - 1: n_i x n_{i-1}, row-major
  std::vector<std::vector<F>> bias_gradients;    // g_i at index i - 1: n_i entries
  std::vector<F> outputs;                        // Z_L: N x n_L, row per sample
};

template <class Cfg>
struct TrainingStatement {
  using F = typename Cfg::F;
  const QuantizedModel* model = nullptr;
  Digest model_digest{};             // model_digest(*model)
  std::size_t samples = 0;           // N
  std::vector<F> input;              // N x n_0, row per sample (quantized by alpha)
  std::vector<std::int64_t> labels;  // N classes, each in [0, n_L)
  std::uint32_t lr_exponent = 0;     // the learning rate is 2^-lr_exponent
  TrainingClaims<F> claims;
};

// The one-hot target's value s_Z(L) (TRAINING.md section 2) as an exact integer. Throws
// std::invalid_argument when the model's output scale is not an integer in [1, 2^62].
std::int64_t target_scale(const QuantizedModel& model);

// Sizes every party derives from (dims, N): the proof's length and soundness come from walking the
// computation's description (verifier/training/computation.hpp), so they cannot drift from it.
struct TrainingShape {
  std::vector<std::size_t> dims;  // n_0 .. n_L
  std::size_t samples = 0;        // N
  // Per layer, a structured layer's trained ops (computation.hpp); empty when every layer is dense.
  std::vector<LayerStructure> structure{};

  std::size_t depth() const { return dims.size() - 1; }
  bool structured() const { return !structure.empty(); }
  // Entries of G_i (i = 1..L): n_i n_{i-1} for a dense layer, the trained ops' weights otherwise.
  std::size_t parameters(std::size_t i) const;
  // Field elements of F in the claims: the loss, every G_i and g_i, the outputs.
  std::size_t claim_elements() const;
  // Elements of K in the proof's messages.
  std::size_t message_count() const;
  // -log2 of the soundness error (TRAINING.md section 5) for challenge field `field`.
  double soundness_bits(FieldId field) const;
};

// The shape of a training proof about `model` over `samples` samples.
TrainingShape training_shape(const QuantizedModel& model, std::size_t samples);

struct TrainingBindings {
  Digest model;   // as the inference statement's: model digest and the scales alpha, beta
  Digest data;    // the field, N, n_0, the input's elements in chunks, then the labels
  Digest claims;  // the loss, the gradients, the outputs
};

template <class Cfg>
TrainingBindings training_bindings(const TrainingStatement<Cfg>& st);

// SHA-256 of everything public: field, the three bindings, the learning rate's exponent, every
// dimension and N.
template <class Cfg>
Digest training_statement_digest(const TrainingStatement<Cfg>& st, const TrainingBindings& bindings);

}  // namespace nnproof

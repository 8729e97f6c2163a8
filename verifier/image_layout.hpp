// SPDX-License-Identifier: Apache-2.0
#pragma once
// The layout of image features in a proof's tables (docs/IMAGE_LAYOUT.md). Version 2 proofs use the
// model's own dense order, (c, h, w) at c H W + h W + w. Version 3 proofs pad every image between
// two ops of which one is a convolution or pool to H' x W' (the powers of two at or above H, W):
// (c, h, w) at (c H' + h) W' + w, zeros at the padding. The index's channel, row and column bits are
// then separate, eq(s, .) factors, and the verifier's W~(q, s) for a convolution costs O(kernel
// entries + kernel size x (H + W) + channels) (verifier/separable_conv.hpp), not O(positions x taps).
// The model (and its digest) is unchanged: ProofLayout derives the model the proof's tables follow.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "verifier/model.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

// The proof format version from which image features are padded to powers of two.
constexpr std::uint32_t kPow2ImageVersion = 3;

class ProofLayout {
 public:
  // The layout a proof of `version` uses for `model` (which must outlive this object).
  ProofLayout(const QuantizedModel& model, std::uint32_t version);

  // The model whose rows, cols, weights and biases are those of the proof's tables: `model` itself
  // when nothing is padded, else a copy with pow2 layouts on its convolutions, zero rows/columns
  // inserted into the dense layers next to padded images, and zero biases at the padding.
  const QuantizedModel& model() const { return remapped_ ? *remapped_ : *original_; }
  // n_0 .. n_L of the proof's tables (the header's dims): model().dims().
  std::vector<std::size_t> dims() const { return model().dims(); }
  // For each input feature j (the model's order), its row in the proof's input table; empty when
  // the input is not padded (then row j).
  const std::vector<std::size_t>& input_map() const { return input_map_; }

 private:
  const QuantizedModel* original_;
  std::shared_ptr<const QuantizedModel> remapped_;
  std::vector<std::size_t> input_map_;
};

// ProofLayout(model, version).dims() without copying the model: the header's dims for `version`.
std::vector<std::size_t> proof_dims(const QuantizedModel& model, std::uint32_t version);

// The row of dense feature j of a (c, h, w) image in the padded layout: (c H' + h) W' + w.
std::vector<std::size_t> pow2_image_map(std::size_t channels, std::size_t h, std::size_t w);

// The input (batch x n_0, sample-major) in the proof's order: each sample's features scattered by
// input_map, zeros at the padding. Returns `input` itself when the map is empty.
template <class T>
std::vector<T> to_proof_input(const ProofLayout& layout, const std::vector<T>& input, std::size_t batch) {
  const auto& map = layout.input_map();
  if (map.empty()) return input;
  const std::size_t n0 = map.size(), padded = layout.model().in_dim();
  T zero{};
  if constexpr (!std::is_arithmetic_v<T>) zero = T::zero();
  std::vector<T> out(batch * padded, zero);
  // A sample a task: the prover's scatter of a whole batch (CNN-2-Quad's 1000 images: 12.5 MB of
  // m127 into 16 MB) took ~2 ms of one core while the other waited.
  parallel_for(batch, [&](std::size_t k) {
    for (std::size_t j = 0; j < n0; ++j) out[k * padded + map[j]] = input[k * n0 + j];
  });
  return out;
}

}  // namespace nnproof

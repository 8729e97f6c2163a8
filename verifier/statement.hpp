// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a proof is about (PROTOCOL.md section 5, "Public"): the quantized model, the input batch and
// the claimed outputs, plus the proof's shape (message counts and the soundness bound).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "core/fields.hpp"
#include "core/polynomial.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// The input's values as small integers: each value's centered form in `width` bytes of native
// two's complement (int8, int16 or int32). Quantized inputs are small, and a verifier holding them
// so reads 1, 2 or 4 bytes a value in its input pass rather than a field element's 8 (m61) or 16
// (m127): the compact encoding's bytes are then mostly these very bytes (verifier/input_binding.hpp).
struct SmallInput {
  unsigned width = 0;                // 1, 2 or 4; 0: the input is not held so
  std::vector<unsigned char> bytes;  // size() * width bytes (std::vector's allocation aligns them)
  bool empty() const { return width == 0; }
  std::size_t size() const { return width == 0 ? 0 : bytes.size() / width; }
  // Value i, sign-extended.
  std::int64_t at(std::size_t i) const;
};

template <class Cfg>
struct Statement {
  using F = typename Cfg::F;
  const QuantizedModel* model = nullptr;
  Digest model_digest{};   // model_digest(*model), computed once per model
  std::size_t batch = 0;   // b, the real samples
  std::vector<F> input;    // b x n_0, row per sample (as in the user's .npy)
  std::vector<F> outputs;  // b x n_L, row per sample: the claimed Z_L, transposed
  // The verifier's other way to hold the input (hold_input_small): the same b x n_0 values, with
  // `input` then empty. A statement holds its input one way; the prover takes `input`.
  SmallInput small_input;
};

// The input's length, however the statement holds it. Both ways at once is the caller's mistake
// (std::invalid_argument): the verifier would check one and the caller might read the other.
template <class Cfg>
std::size_t input_size(const Statement<Cfg>& st) {
  if (!st.small_input.empty() && !st.input.empty())
    throw std::invalid_argument(
        "statement: the input is held both as field elements and as small integers; keep "
        "one (hold_input_small moves it)");
  return st.small_input.empty() ? st.input.size() : st.small_input.size();
}
// Moves st.input into st.small_input when every value's centered form fits 32 bits (quantized
// inputs do), the narrowest of int8, int16, int32 holding them all; returns whether it did (if
// not, or if it is held so already, st is unchanged). For the verifier: the prover reads `input`.
template <class Cfg>
bool hold_input_small(Statement<Cfg>& st);
// The same form built straight from integer values (a loaded input's int64 samples), without
// their field elements: std::nullopt when a value does not fit 32 bits.
std::optional<SmallInput> small_input_of(std::span<const std::int64_t> values);

// How a statement built from integer samples holds its input: as field elements (the prover reads
// them), or as small integers when every value fits 32 bits, else as field elements (the verifier).
enum class InputForm { field, small_if_fits };
// The statement about samples [first, first + count) of `input` (rows of model.in_dim() quantized
// values): the model, its digest and those samples' input, no outputs yet. One helper for the
// whole batch, a prover's chunk and a verifier's chunk. std::invalid_argument past the input's end.
template <class Cfg>
Statement<Cfg> sample_statement(const QuantizedModel& model, const Digest& model_digest,
                                std::span<const std::int64_t> input, std::size_t first, std::size_t count,
                                InputForm form = InputForm::field);
// The input as field elements: st.input itself, or the small integers converted into `storage`
// (the version 2 binding and the interactive verifier read elements).
template <class Cfg>
const std::vector<typename Cfg::F>& input_elements(const Statement<Cfg>& st, std::vector<typename Cfg::F>& storage);

// How the input binding encodes the input's elements (docs/FORMAT.md, "Digests"); the proof
// format's version picks one (input_encoding in verifier/proof.hpp).
enum class InputEncoding : std::uint8_t {
  field_elements,  // version 2: each element's canonical F bytes, chunks of kElementChunk elements
  compact,         // version 3: chunks of whole samples, u8 width || centered values in that width
};

// The statement's digests (docs/FORMAT.md). The proof header carries the model and input
// bindings next to the statement digest, so a verifier can tell "this proof is for another model
// or input" (a usage error) from "the outputs were changed" (a rejection).
struct StatementBindings {
  Digest model;    // SHA-256 of the model digest and the scales alpha, beta
  Digest input;    // SHA-256 of the field, the input's shape and its elements, in chunks (input_binding.hpp)
  Digest outputs;  // SHA-256 of the claimed outputs
};
// SHA-256 of the model digest and the scales alpha, beta.
template <class Cfg>
Digest model_binding(const Statement<Cfg>& st);
// All three bindings. The input's chunks and the outputs are independent SHA-256 streams, hashed
// in one parallel pass: the input and the outputs are all the bytes either party hashes.
template <class Cfg>
StatementBindings statement_bindings(const Statement<Cfg>& st, InputEncoding encoding = InputEncoding::compact);
// SHA-256 of the claimed outputs.
template <class Cfg>
Digest output_binding(const Statement<Cfg>& st);
// SHA-256 binding everything public: field, the three bindings, dimensions, batch.
template <class Cfg>
Digest statement_digest(const Statement<Cfg>& st, const StatementBindings& bindings);
template <class Cfg>
Digest statement_digest(const Statement<Cfg>& st) {
  return statement_digest(st, statement_bindings(st));
}

// Sizes every party derives from (dims, batch): proof length and soundness (PROTOCOL.md 5, 8).
struct ProofShape {
  std::vector<std::size_t> dims;  // n_0 .. n_L
  std::size_t batch = 0;

  std::size_t depth() const { return dims.size() - 1; }
  unsigned nu(std::size_t i) const { return ceil_log2(dims[i]); }
  unsigned beta() const { return ceil_log2(batch); }
  // Elements of K in the proof, outputs excluded.
  std::size_t message_count() const;
  // -log2 of the soundness error of PROTOCOL.md section 8 for challenge field `field`.
  double soundness_bits(FieldId field) const;
};

constexpr double kMinSoundnessBits = 100.0;

}  // namespace nnproof

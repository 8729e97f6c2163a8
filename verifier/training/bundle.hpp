// SPDX-License-Identifier: Apache-2.0
#pragma once
// The training-proof bundle (.nnpt): the claimed loss, gradients and outputs, then the proof.
// Binary, little-endian, canonical; byte layout in docs/FORMAT.md. As with .nnp files, the parser
// never trusts a size it reads: lengths are checked against the model and data the verifier holds.
#include <cstdint>
#include <span>
#include <vector>

#include "verifier/proof.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof {

constexpr std::uint32_t kTrainingProofVersion = 1;
constexpr std::size_t kTrainingFixedHeaderBytes = 120;  // magic .. depth L (see docs/FORMAT.md)
constexpr std::uint32_t kMaxLrExponent = 64;            // the learning rate 2^-e, e in 0..64

struct TrainingBundleHeader {
  FieldId field = FieldId::m61;
  std::uint8_t mode = kModeNonInteractive;
  Digest statement_digest{};
  Digest model_binding{};
  Digest data_binding{};
  std::uint32_t lr_exponent = 0;
  std::vector<std::size_t> dims;  // n_0 .. n_L
  std::size_t samples = 0;        // N
};

template <class Cfg>
struct TrainingBundle {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  TrainingBundleHeader header;
  TrainingClaims<F> claims;
  std::vector<K> messages;  // in protocol order
};

// Whether `bytes` starts with the training bundle's magic `NNPTRAIN` (inspect tells the kinds apart).
bool is_training_bundle(std::span<const unsigned char> bytes);
// The header's length for a network of `depth` layers.
std::size_t training_bundle_header_size(std::size_t depth);
// Reads and checks the header (magic, version, field, mode, reserved bytes, dims, N). A depth other
// than expected_depth is refused; kAnyDepth (inspect) accepts 1..kMaxDepth. Throws ProofFormatError.
TrainingBundleHeader parse_training_header(std::span<const unsigned char> bytes, std::size_t expected_depth);
// The whole file's length for a trusted shape (saturating at SIZE_MAX).
std::size_t training_bundle_size(FieldId field, const TrainingShape& shape);

template <class Cfg>
std::vector<unsigned char> serialize_training_bundle(const TrainingBundle<Cfg>& bundle);
// Parses a whole file whose dims and N must equal `expected` and whose length must be exact.
template <class Cfg>
TrainingBundle<Cfg> parse_training_bundle(std::span<const unsigned char> bytes, const TrainingShape& expected);

}  // namespace nnproof

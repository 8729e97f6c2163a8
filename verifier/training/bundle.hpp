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
  // Flag bit 0 of the header's flags: a structure section follows the header (a model with a
  // structured layer). parse_training_header sets it; parse_training_bundle fills `structure`.
  bool structured = false;
  std::vector<LayerStructure> structure{};  // empty: every layer dense
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
// The structure section (docs/FORMAT.md) that starts right after the header, read with no model at
// hand: per layer a u32 trained-op count (kDenseLayer for a dense layer), then each structured
// layer's trained ops as (u32 op index, u64 weight count). Throws ProofFormatError when `bytes` is
// short or a value is out of range. `used` is set to the section's length.
constexpr std::uint32_t kDenseLayer = 0xFFFFFFFF;
constexpr std::size_t kMaxTrainedOps = 65536;                // per layer
constexpr std::size_t kMaxOpWeights = std::size_t{1} << 40;  // per trained op
std::vector<LayerStructure> parse_training_structure(std::span<const unsigned char> bytes, std::size_t depth,
                                                     std::size_t& used);
// The whole file's length for a trusted shape (saturating at SIZE_MAX).
std::size_t training_bundle_size(FieldId field, const TrainingShape& shape);
// The header, structure section and claims alone (no walk of the description): a reader that takes
// the shape from the file itself (inspect) checks the file holds at least this much before it
// walks a structure of the file's choosing to count the messages.
std::size_t training_bundle_size_before_messages(FieldId field, const TrainingShape& shape);

template <class Cfg>
std::vector<unsigned char> serialize_training_bundle(const TrainingBundle<Cfg>& bundle);
// Parses a whole file whose dims and N must equal `expected` and whose length must be exact.
template <class Cfg>
TrainingBundle<Cfg> parse_training_bundle(std::span<const unsigned char> bytes, const TrainingShape& expected);

}  // namespace nnproof

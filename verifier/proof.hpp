// SPDX-License-Identifier: Apache-2.0
#pragma once
// The proof bundle (.nnp): exact outputs plus the proof, binary, little-endian, canonical.
// Byte layout: docs/FORMAT.md. The parser never trusts a size it reads: every length is checked
// against the model and input the verifier was given before anything is allocated.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "verifier/statement.hpp"

namespace nnproof {

// A malformed, truncated, extended or non-canonical proof file, or one made for another shape.
struct ProofFormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The version serialize_bundle writes by default, and the oldest parse_header still reads (nnproof
// --version says both). 1: the outputs were hashed into the statement digest directly. 2: image
// features in the dense (C, H, W) order. 3: the version of docs/FORMAT.md today.
constexpr std::uint32_t kProofVersion = 3;
constexpr std::uint32_t kOldestProofVersion = 2;
constexpr std::uint8_t kModeNonInteractive = 0;
constexpr std::size_t kFixedHeaderBytes = 116;  // magic .. depth L (see docs/FORMAT.md)

struct BundleHeader {
  std::uint32_t version = kProofVersion;  // kOldestProofVersion .. kProofVersion
  FieldId field = FieldId::m61;
  std::uint8_t mode = kModeNonInteractive;
  Digest statement_digest{};
  Digest model_binding{};  // model digest + scales
  Digest input_binding{};
  std::vector<std::size_t> dims;  // n_0 .. n_L
  std::size_t batch = 0;
};

template <class Cfg>
struct ProofBundle {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  BundleHeader header;
  std::vector<F> outputs;   // b x n_L, row per sample
  std::vector<K> messages;  // in protocol order
};

// Reads the fixed header fields (magic, version, field, mode) from the first bytes of a file.
// `expected_depth` bounds the dims read: a file claiming another depth is refused. kAnyDepth (for
// tools with no model at hand) accepts any depth up to kMaxDepth.
constexpr std::size_t kAnyDepth = SIZE_MAX;
constexpr std::size_t kMaxDepth = 4096;
BundleHeader parse_header(std::span<const unsigned char> bytes, std::size_t expected_depth);

// Dimensions and batch sizes above this are refused as implausible before any size arithmetic.
constexpr std::size_t kMaxDimension = std::size_t{1} << 32;

// The header's length for a network of `depth` layers.
std::size_t bundle_header_size(std::size_t depth);

// Total file size implied by a header whose field and dims are trusted (checked against the model).
std::size_t bundle_size(FieldId field, const ProofShape& shape);

template <class Cfg>
std::vector<unsigned char> serialize_bundle(const ProofBundle<Cfg>& bundle);

// Parses a whole file. Its dims and batch must equal `expected`; its length must be exact.
template <class Cfg>
ProofBundle<Cfg> parse_bundle(std::span<const unsigned char> bytes, const ProofShape& expected);

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// A chunked bundle (docs/FORMAT.md, "Chunked bundles"): a batch proved in consecutive sample
// ranges, each range a complete .nnp proof of its own statement, behind a 32-byte prefix that
// says how many chunks follow. A batch that fits in one chunk is written as the plain .nnp bundle
// (no prefix), so a chunked file always holds at least two chunks and one proof has one encoding.
#include <cstdint>
#include <span>
#include <vector>

#include "verifier/proof.hpp"

namespace nnproof {

constexpr std::size_t kChunkedPrefixBytes = 32;
// The most chunks a file may hold: a bound the verifier applies before reading any chunk, and far
// above what a memory limit asks for (the prover refuses a plan with more).
constexpr std::size_t kMaxChunks = std::size_t{1} << 20;

struct ChunkedPrefix {
  std::uint32_t version = kProofVersion;  // the format version of every chunk
  FieldId field = FieldId::m61;           // every chunk's field
  std::size_t chunks = 0;                 // C >= 2
  std::size_t batch = 0;                  // b: the samples the chunks cover, in order
};

// Whether a file starts with the chunked bundle's magic (`NNPCHUNK`); false for a plain .nnp.
bool is_chunked_bundle(std::span<const unsigned char> bytes);

// Parses the 32-byte prefix: magic, version (3), field, mode 0, reserved zero, C (2 .. kMaxChunks)
// and b (1 .. kMaxDimension), C <= b. ProofFormatError otherwise.
ChunkedPrefix parse_chunked_prefix(std::span<const unsigned char> bytes);

std::vector<unsigned char> serialize_chunked_prefix(const ChunkedPrefix& prefix);

// The largest chunked file a verifier will read for `batch` samples of a network with these
// (trusted) dims: the prefix, then at most min(batch, kMaxChunks) chunks whose messages are at
// most the whole batch's (the count grows with log2 of a chunk's batch) and whose outputs total
// batch x n_L. A bound from the client's model and input, never from the file.
std::size_t max_chunked_bundle_size(FieldId field, const ProofShape& whole);

// -log2 of the union bound over chunks: an adversary wins if it fools any one chunk's verifier,
// so the errors 2^-bits_j add up (docs/SECURITY.md).
double combined_soundness_bits(std::span<const double> chunk_bits);

}  // namespace nnproof

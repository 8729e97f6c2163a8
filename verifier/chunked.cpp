// SPDX-License-Identifier: Apache-2.0
#include "verifier/chunked.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>

#include "verifier/byte_io.hpp"

namespace nnproof {
namespace {

constexpr unsigned char kChunkMagic[8] = {'N', 'N', 'P', 'C', 'H', 'U', 'N', 'K'};

}  // namespace

bool is_chunked_bundle(std::span<const unsigned char> bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kChunkMagic, 8) == 0;
}

ChunkedPrefix parse_chunked_prefix(std::span<const unsigned char> bytes) {
  byte_io::Reader r(bytes);
  if (std::memcmp(r.take(8, "the magic"), kChunkMagic, 8) != 0)
    throw ProofFormatError("not a chunked nnproof bundle (bad magic)");
  ChunkedPrefix p;
  const std::uint64_t version = r.uint(4, "the version");
  // Chunked bundles were introduced with version 3: an older version here was never written.
  if (version != 3)
    throw ProofFormatError("unsupported chunked bundle version " + std::to_string(version) +
                           " (this nnproof reads chunked bundles of version 3; prove again with it)");
  p.version = static_cast<std::uint32_t>(version);
  std::tie(p.field, std::ignore) = byte_io::read_field_and_mode(r);
  const std::uint64_t chunks = r.uint(8, "the chunk count");
  const std::uint64_t batch = r.uint(8, "the batch size");
  if (batch == 0 || batch > kMaxDimension)
    throw ProofFormatError("implausible batch size " + std::to_string(batch) + " in the chunked header");
  if (chunks < 2 || chunks > kMaxChunks || chunks > batch)
    throw ProofFormatError("chunk count: " + std::to_string(chunks) + " chunks for " + std::to_string(batch) +
                           " samples (a chunked bundle holds 2 to min(b, 2^20) chunks of at least one sample)");
  p.chunks = static_cast<std::size_t>(chunks);
  p.batch = static_cast<std::size_t>(batch);
  return p;
}

std::vector<unsigned char> serialize_chunked_prefix(const ChunkedPrefix& p) {
  byte_io::Writer w;
  w.bytes(kChunkMagic, 8);
  w.uint(p.version, 4);
  w.uint(static_cast<std::uint8_t>(p.field), 1);
  w.uint(kModeNonInteractive, 1);
  w.uint(0, 2);
  w.uint(p.chunks, 8);
  w.uint(p.batch, 8);
  return w.out;
}

std::size_t max_chunked_bundle_size(FieldId field, const ProofShape& whole) {
  const std::size_t chunks = std::min(whole.batch, kMaxChunks);
  // Each chunk's messages: at most the whole batch's count (beta of a chunk <= beta of the batch).
  const ProofShape one{whole.dims, 1};
  const u128 per_chunk = static_cast<u128>(bundle_size(field, one)) +
                         static_cast<u128>(whole.message_count()) * byte_io::field_challenge_bytes(field);
  const u128 outputs = static_cast<u128>(whole.batch) * whole.dims.back() * byte_io::field_base_bytes(field);
  const u128 total = kChunkedPrefixBytes + per_chunk * chunks + outputs;
  return total > static_cast<u128>(SIZE_MAX) ? SIZE_MAX : static_cast<std::size_t>(total);
}

double combined_soundness_bits(std::span<const double> chunk_bits) {
  // sum_j 2^-bits_j, scaled by 2^min so that nothing underflows: bits = min - log2(sum 2^(min-bits_j)).
  if (chunk_bits.empty()) return 0;
  const double lo = *std::min_element(chunk_bits.begin(), chunk_bits.end());
  double sum = 0;
  for (double b : chunk_bits) sum += std::exp2(lo - b);
  return lo - std::log2(sum);
}

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// Hashing field elements for the statements' bindings (docs/FORMAT.md, "Digests"): each element
// as its canonical kBytes little-endian bytes, and long vectors as a two-level hash of chunks, one
// SHA-256 stream per chunk so that the chunks hash in parallel (the largest thing either party
// hashes is the data).
#include <algorithm>
#include <bit>
#include <span>
#include <type_traits>
#include <vector>

#include "verifier/parallel.hpp"
#include "verifier/sha256.hpp"

namespace nnproof {

// u64 count || the elements' bytes.
template <class T>
void update_elements(Sha256& h, std::span<const T> v) {
  h.update_u64(v.size());
  // On a little-endian machine the encoding is exactly the elements' memory, hashed in place.
  if constexpr (std::endian::native == std::endian::little && sizeof(T) == T::kBytes &&
                std::has_unique_object_representations_v<T>) {
    h.update(v.data(), v.size_bytes());
    return;
  }
  std::vector<unsigned char> buf(v.size() * T::kBytes);
  for (std::size_t i = 0; i < v.size(); ++i) v[i].to_bytes(buf.data() + i * T::kBytes);
  h.update(buf.data(), buf.size());
}

// Elements per chunk of a two-level hash: 64 Ki elements (512 KiB with m61).
constexpr std::size_t kElementChunk = std::size_t{1} << 16;

inline std::size_t element_chunks(std::size_t n) { return (n + kElementChunk - 1) / kElementChunk; }

// Chunk c's digest = SHA256(u64 elements in chunk c || those elements), for every chunk.
template <class T>
std::vector<Digest> chunk_digests(std::span<const T> v) {
  std::vector<Digest> digests(element_chunks(v.size()));
  parallel_for_dynamic(digests.size(), [&](std::size_t c) {
    const std::size_t begin = c * kElementChunk, end = std::min(v.size(), begin + kElementChunk);
    Sha256 h;
    update_elements(h, v.subspan(begin, end - begin));
    digests[c] = h.finish();
  });
  return digests;
}

// u64 count || u64 chunks || every chunk's digest: the two-level hash of a vector.
template <class T>
void update_chunked(Sha256& h, std::span<const T> v) {
  h.update_u64(v.size()).update_u64(element_chunks(v.size()));
  for (const Digest& d : chunk_digests(v)) h.update(d);
}

}  // namespace nnproof

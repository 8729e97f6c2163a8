// SPDX-License-Identifier: Apache-2.0
#pragma once
// The statement's input binding (docs/FORMAT.md, "Digests") and the verifier's one pass over the
// input. The input is the largest thing the client reads: with quantized inputs (small integers)
// its compact encoding, a width byte then each value in the narrowest two's complement that holds
// every value of the chunk, is 8x (m61) or 16x (m127) shorter to hash than its field elements.
//
// The input's chunk digests do not depend on the challenges, but X~(s, r) does, and (s, r) come
// from a transcript that absorbs the input binding. The verifier therefore draws them from the
// binding the proof's header claims, and then in one pass over the input hashes each chunk and
// adds its share of X~(s, r); the claimed binding must equal the hashed one, so the challenges were
// drawn from the binding of this very input (input_pass below).
#include <cstdint>
#include <span>
#include <vector>

#include "verifier/element_hash.hpp"
#include "verifier/sha256.hpp"
#include "verifier/statement.hpp"

namespace nnproof {

// Centered value of each element (x, or x - p above p/2) in the narrowest of 1, 2, 4, 8, 16 bytes
// of two's complement holding all of v: the width compact_encode writes.
template <class F>
unsigned compact_width(std::span<const F> v);

// Where compact_encode_into puts the encoding in its buffer: the width byte at buf[kCompactLead],
// the values from buf[kCompactLead + 1], which std::vector's allocation aligns to 16 bytes, so the
// encoder's and the dot products' int16 / int32 / int64 stores and loads are aligned (they would
// not be right after a width byte at buf[0]). The bytes hashed are the same.
inline constexpr std::size_t kCompactLead = 15;

// u8 width || each element's centered value in `width` bytes, little-endian: written at
// buf[kCompactLead] (buf grown if short, never shrunk); returns its length. The m61 and m127 loops are
// vectorized (verifier/compact_encode.cpp); compact_encoding_portable is the plain reference.
template <class F>
std::size_t compact_encode_into(std::span<const F> v, std::vector<unsigned char>& buf);
template <class F>
std::vector<unsigned char> compact_encoding(std::span<const F> v);
template <class F>
std::vector<unsigned char> compact_encoding_portable(std::span<const F> v);

// The compact encoding of values [begin, end) of an input held as small integers
// (Statement::small_input): their width (as compact_width gives for the same values), and their
// bytes in that width: the statement's own bytes where the widths agree (little-endian machines),
// else narrowed into buf at kCompactLead + 1 (buf grown if short).
unsigned small_chunk_width(const SmallInput& s, std::size_t begin, std::size_t end);
const unsigned char* small_chunk_encoding(const SmallInput& s, std::size_t begin, std::size_t end, unsigned width,
                                          std::vector<unsigned char>& buf);

// Samples per chunk of the compact encoding: whole samples, about kElementChunk elements.
inline std::size_t compact_chunk_samples(std::size_t n0) { return n0 >= kElementChunk ? 1 : kElementChunk / n0; }

// Chunks of the input's hash for `encoding` (field elements: kElementChunk elements each; compact:
// compact_chunk_samples whole samples each), chunk c's digest, and the binding over all digests.
template <class Cfg>
std::size_t input_chunks(const Statement<Cfg>& st, InputEncoding encoding);
template <class Cfg>
Digest input_chunk_digest(const Statement<Cfg>& st, InputEncoding encoding, std::size_t chunk);
template <class Cfg>
Digest input_binding_of(const Statement<Cfg>& st, InputEncoding encoding, std::span<const Digest> chunk_digests);
// The input binding alone (the chunks hashed in parallel).
template <class Cfg>
Digest input_binding(const Statement<Cfg>& st, InputEncoding encoding);

// The input binding and X~(s, r) = sum_k eq_r[k] sum_j eq_s[j] X[k][j], the input read once, and
// the output binding (hashed in the same parallel pass, as statement_bindings does) unless
// hash_outputs is false (the caller hashed them beside other work; `outputs` is then left zero).
template <class K>
struct InputPass {
  Digest binding{};
  K mle{};
  Digest outputs{};
};
// Throws std::invalid_argument unless the input is batch x n_0 and eq_s, eq_r cover n_0 and batch.
template <class Cfg>
InputPass<typename Cfg::K> input_pass(const Statement<Cfg>& st, InputEncoding encoding,
                                      std::span<const typename Cfg::K> eq_s, std::span<const typename Cfg::K> eq_r,
                                      bool hash_outputs = true);

}  // namespace nnproof

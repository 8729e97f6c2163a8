// SPDX-License-Identifier: Apache-2.0
// The int8 convolution's join into a narrow Z's int64 rows, eight channels at a time: the rebuilt
// values of a block's samples lie sample-major (a sample's channels side by side), the table's rows
// sample-minor, so each eight samples x eight channels are transposed in vector registers and
// stored as eight runs of eight entries. Compiled for AVX-512 and AVX2 beside a portable build
// (target clones). The scalar loop it replaces, a strided load and a store per value, was 8.9% of
// CNN-2-Quad's proof on Zen 4 (docs/PERFORMANCE.md, session 27).
#include <cstring>

#include "core/simd/x86.hpp"
#include "kernels/cpu/conv_int8_bytes.hpp"

namespace nnproof::conv_bytes {

namespace {
using Lanes = std::uint64_t __attribute__((vector_size(64)));  // eight values
constexpr std::size_t kLanes = 8;

// v[j] lane s becomes v[s] lane j: three rounds of two-vector shuffles (pairs, quads, halves).
inline void transpose_8x8(Lanes (&v)[8]) {
  Lanes t[8], u[8];
  for (std::size_t k = 0; k < 8; k += 2) {
    t[k] = __builtin_shufflevector(v[k], v[k + 1], 0, 8, 2, 10, 4, 12, 6, 14);
    t[k + 1] = __builtin_shufflevector(v[k], v[k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (std::size_t k = 0; k < 8; k += 4)
    for (std::size_t j = 0; j < 2; ++j) {
      u[k + j] = __builtin_shufflevector(t[k + j], t[k + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[k + j + 2] = __builtin_shufflevector(t[k + j], t[k + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (std::size_t j = 0; j < 4; ++j) {
    v[j] = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    v[j + 4] = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// ors |= |v| - [v < 0] in each lane: below 2^k exactly where |v| <= 2^k (one bit short at -2^k).
// (Vectors by reference: passed by value, outside the clones' targets, they change the ABI.)
using SignedLanes = std::int64_t __attribute__((vector_size(64)));
inline void or_magnitude_bits(const Lanes& v, Lanes& ors) {
  ors |= v ^ reinterpret_cast<Lanes>(reinterpret_cast<const SignedLanes&>(v) >> 63);
}
}  // namespace

NNP_CLONES_V4_V3 std::uint64_t join_eight_channels(const std::uint64_t* z, std::size_t z_stride, std::size_t n,
                                                   const std::uint64_t (&bias)[8], std::int64_t* const (&rows)[8]) {
  Lanes ors{};
  std::size_t i0 = 0;
  for (; i0 + kLanes <= n; i0 += kLanes) {
    Lanes v[8];  // v[s]: the eight channels' values of sample i0 + s
    for (std::size_t s = 0; s < kLanes; ++s) std::memcpy(&v[s], z + (i0 + s) * z_stride, sizeof(Lanes));
    transpose_8x8(v);  // v[r]: channel r's values of samples i0 .. i0 + 7
    for (std::size_t r = 0; r < 8; ++r) {
      v[r] += bias[r];
      or_magnitude_bits(v[r], ors);
      std::memcpy(rows[r] + i0, &v[r], sizeof(Lanes));
    }
  }
  std::uint64_t any = 0;
  for (std::size_t l = 0; l < kLanes; ++l) any |= ors[l];
  for (std::size_t r = 0; r < 8; ++r)
    for (std::size_t i = i0; i < n; ++i) {
      const std::uint64_t v = z[i * z_stride + r] + bias[r];
      rows[r][i] = static_cast<std::int64_t>(v);
      any |= v ^ static_cast<std::uint64_t>(static_cast<std::int64_t>(v) >> 63);
    }
  return any;
}

}  // namespace nnproof::conv_bytes

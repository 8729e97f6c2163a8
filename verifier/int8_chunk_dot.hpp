#pragma once
// Exact sums of int8 weights times elements of K in the m61 family, vectorized on any x86-64: each
// coordinate of the K elements is cut into six 12-bit chunks, so every product is an int8 times a
// 12-bit integer (|product| < 2^19) and 2048 of them sum exactly in an int32. The inner loops are
// then 16-bit multiply-adds (pmaddwd; AVX2 / AVX-512 versions are picked at run time), faster than
// the two 64 x 64 -> 128-bit products per weight of M61Coords sums. Used where int8 weights meet a
// fixed K vector many times: the verifier's W~(q, s), one dot per row against eq(s, .).
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/lazy.hpp"

namespace nnproof {

// sum_j w[j] c[j] in int32: exact while len * 2^7 * 2^15 < 2^31 (the callers' blocks are shorter).
std::int32_t int8_int16_dot(const std::int8_t* w, const std::int16_t* c, std::size_t len);

template <class K>
class Int8ChunkDot {
 public:
  static constexpr unsigned kChunkBits = 12, kChunks = 6;  // 6 x 12 = 72 >= 61 bits
  static constexpr unsigned kCoords = M61Coords<K>::kCount, kArrays = kCoords * kChunks;
  static constexpr std::size_t kBlock = 2048;  // 2048 x 2^19 < 2^31: a block's int32 sum is exact

  // The chunks of e, one array of e.size() int16 per (coordinate, chunk).
  explicit Int8ChunkDot(std::span<const K> e) : n_(e.size()), chunks_(kArrays * e.size()) {
    for (std::size_t j = 0; j < n_; ++j)
      for (unsigned c = 0; c < kCoords; ++c) {
        const auto v = static_cast<std::uint64_t>(M61Coords<K>::get(e[j], c));
        for (unsigned k = 0; k < kChunks; ++k)
          chunks_[(c * kChunks + k) * n_ + j] = static_cast<std::int16_t>((v >> (kChunkBits * k)) & 0xFFF);
      }
  }

  // sum_{j < n} w[j] e[j], exact (n <= e.size()).
  K dot(const std::int8_t* w, std::size_t n) const {
    std::array<std::int64_t, kArrays> total{};  // |total| < 2^19 n: far inside int64
    for (std::size_t j0 = 0; j0 < n; j0 += kBlock) {
      const std::size_t len = std::min(kBlock, n - j0);
      for (unsigned t = 0; t < kArrays; ++t) total[t] += int8_int16_dot(w + j0, chunks_.data() + t * n_ + j0, len);
    }
    std::array<i128, kCoords> acc{};
    for (unsigned c = 0; c < kCoords; ++c)
      for (unsigned k = 0; k < kChunks; ++k) acc[c] += static_cast<i128>(total[c * kChunks + k]) << (kChunkBits * k);
    return M61Coords<K>::make(acc.data());
  }

 private:
  std::size_t n_;
  std::vector<std::int16_t> chunks_;
};

}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// Exact sums of int8 weights times elements of K: each K element is cut into bytes (the m61
// family's 64-bit coordinates into eight each, an m127 value into sixteen), so every product is an
// int8 times a byte (|product| < 2^15) and a block of 2048 of them sums exactly in an int32. With
// AVX-512 VNNI one vpdpbusd takes 64 weights against one byte array, and one pass over a weight row
// serves every byte array; elsewhere a loop per array that the compiler vectorizes (AVX-512 / AVX2 /
// baseline clones). Either way far faster than the 64 x 64 -> 128-bit products per weight of
// ExactIntSums (m61) or the five 31-bit limb products of its m127 sums. Used where int8
// weights meet a fixed K vector many times: the verifier's W~(q, s), one dot per row against eq(s, .).
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "core/lazy.hpp"

namespace nnproof {

// totals[t] += sum_{j < len} w[j] bytes[t * stride + j] for t < arrays. Exact while len <= 2048.
void int8_byte_dots(const std::int8_t* w, const std::uint8_t* bytes, std::size_t stride, unsigned arrays,
                    std::size_t len, std::int64_t* totals);

// Every implementation of int8_byte_dots this CPU can run (the fastest is the one used), for tests.
using ByteDotsFn = void (*)(const std::int8_t*, const std::uint8_t*, std::size_t, unsigned, std::size_t, std::int64_t*);
struct ByteDotsKernel {
  const char* name;
  ByteDotsFn fn;
};
std::vector<ByteDotsKernel> int8_byte_dots_kernels();

// How an element of K is cut into byte arrays and rebuilt from their int64 totals.
template <class K>
struct ByteChunks {  // the m61 family: eight bytes per 64-bit coordinate
  static constexpr unsigned kArrays = M61Coords<K>::kCount * 8;
  static std::uint8_t byte(K e, unsigned t) {
    return static_cast<std::uint8_t>(static_cast<std::uint64_t>(M61Coords<K>::get(e, t / 8)) >> (8 * (t % 8)));
  }
  // |total| < 2^15 n, so each coordinate's sum of total << 8k stays below 2^(71 + log2 n) in i128.
  static K combine(const std::int64_t* total) {
    std::array<i128, M61Coords<K>::kCount> acc{};
    for (unsigned t = 0; t < kArrays; ++t) acc[t / 8] += static_cast<i128>(total[t]) << (8 * (t % 8));
    return M61Coords<K>::make(acc.data());
  }
};
template <>
struct ByteChunks<Fp127> {  // sixteen bytes, rebuilt as two 64-bit halves: lo + 2^64 hi
  static constexpr unsigned kArrays = 16;
  static std::uint8_t byte(Fp127 e, unsigned t) { return static_cast<std::uint8_t>(e.v >> (8 * t)); }
  static Fp127 combine(const std::int64_t* total) {
    std::array<i128, 2> half{};
    for (unsigned t = 0; t < kArrays; ++t) half[t / 8] += static_cast<i128>(total[t]) << (8 * (t % 8));
    return Fp127::from_i128(half[0]) + Fp127::from_i128(half[1]) * Fp127{u128{1} << 64};
  }
};

template <class K>
class Int8ChunkDot {
 public:
  static constexpr unsigned kArrays = ByteChunks<K>::kArrays;
  static constexpr std::size_t kBlock = 2048;  // 2048 x 2^15 < 2^31: a block's int32 sums are exact

  // The bytes of e: array t holds byte t of every element (ByteChunks).
  explicit Int8ChunkDot(std::span<const K> e) : n_(e.size()), bytes_(kArrays * e.size()) {
    if constexpr (kObjectBytes) {
      // Byte t of an element is byte t of its object (its canonical coordinates, little-endian):
      // a plain 16 x n byte transpose, array by array, each written in order. Element by element
      // with a 128-bit shift per byte (below) it was most of a 10-row layer's W~ (16 n scattered
      // stores against the rows' n / 64 VNNI steps).
      const auto* src = reinterpret_cast<const std::uint8_t*>(e.data());
      for (unsigned t = 0; t < kArrays; ++t) {
        std::uint8_t* dst = bytes_.data() + t * n_;
        for (std::size_t j = 0; j < n_; ++j) dst[j] = src[j * sizeof(K) + t];
      }
    } else {
      for (std::size_t j = 0; j < n_; ++j)
        for (unsigned t = 0; t < kArrays; ++t) bytes_[t * n_ + j] = ByteChunks<K>::byte(e[j], t);
    }
  }

  // sum_{j < n} w[j] e[j], exact (n <= e.size()).
  K dot(const std::int8_t* w, std::size_t n) const {
    std::array<std::int64_t, kArrays> total{};  // |total| < 2^15 n: far inside int64
    for (std::size_t j0 = 0; j0 < n; j0 += kBlock)
      int8_byte_dots(w + j0, bytes_.data() + j0, n_, kArrays, std::min(kBlock, n - j0), total.data());
    return ByteChunks<K>::combine(total.data());
  }

 private:
  // Whether an element's object is its kArrays bytes in ByteChunks' order (m127's u128 and the m61
  // coordinates on a little-endian machine).
  static constexpr bool kObjectBytes =
      std::endian::native == std::endian::little && sizeof(K) == kArrays && std::is_trivially_copyable_v<K>;
  std::size_t n_;
  std::vector<std::uint8_t> bytes_;
};

}  // namespace nnproof

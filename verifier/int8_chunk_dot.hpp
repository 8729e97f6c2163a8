#pragma once
// Exact sums of int8 weights times elements of K in the m61 family: each 64-bit coordinate of the K
// elements is cut into its eight bytes, so every product is an int8 times a byte (|product| < 2^15)
// and a block of 2048 of them sums exactly in an int32. With AVX-512 VNNI one vpdpbusd takes 64
// weights against one byte array, and one pass over a weight row serves every byte array; elsewhere
// a loop per array that the compiler vectorizes (AVX-512 / AVX2 / baseline clones). Either way far
// faster than the two 64 x 64 -> 128-bit products per weight of M61Coords sums. Used where int8
// weights meet a fixed K vector many times: the verifier's W~(q, s), one dot per row against eq(s, .).
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/lazy.hpp"

namespace nnproof {

// totals[t] += sum_{j < len} w[j] bytes[t * stride + j] for t < arrays. Exact while len <= 2048.
void int8_byte_dots(const std::int8_t* w, const std::uint8_t* bytes, std::size_t stride, unsigned arrays, std::size_t len,
                    std::int64_t* totals);

// Every implementation of int8_byte_dots this CPU can run (the fastest is the one used), for tests.
using ByteDotsFn = void (*)(const std::int8_t*, const std::uint8_t*, std::size_t, unsigned, std::size_t, std::int64_t*);
struct ByteDotsKernel {
  const char* name;
  ByteDotsFn fn;
};
std::vector<ByteDotsKernel> int8_byte_dots_kernels();

template <class K>
class Int8ChunkDot {
 public:
  static constexpr unsigned kCoords = M61Coords<K>::kCount, kArrays = kCoords * 8;
  static constexpr std::size_t kBlock = 2048;  // 2048 x 2^15 < 2^31: a block's int32 sums are exact

  // The bytes of e: array c * 8 + k holds byte k of coordinate c of every element.
  explicit Int8ChunkDot(std::span<const K> e) : n_(e.size()), bytes_(kArrays * e.size()) {
    for (std::size_t j = 0; j < n_; ++j)
      for (unsigned c = 0; c < kCoords; ++c) {
        const auto v = static_cast<std::uint64_t>(M61Coords<K>::get(e[j], c));
        for (unsigned k = 0; k < 8; ++k) bytes_[(c * 8 + k) * n_ + j] = static_cast<std::uint8_t>(v >> (8 * k));
      }
  }

  // sum_{j < n} w[j] e[j], exact (n <= e.size()).
  K dot(const std::int8_t* w, std::size_t n) const {
    std::array<std::int64_t, kArrays> total{};  // |total| < 2^15 n: far inside int64
    for (std::size_t j0 = 0; j0 < n; j0 += kBlock)
      int8_byte_dots(w + j0, bytes_.data() + j0, n_, kArrays, std::min(kBlock, n - j0), total.data());
    std::array<i128, kCoords> acc{};
    for (unsigned c = 0; c < kCoords; ++c)
      for (unsigned k = 0; k < 8; ++k) acc[c] += static_cast<i128>(total[c * 8 + k]) << (8 * k);
    return M61Coords<K>::make(acc.data());
  }

 private:
  std::size_t n_;
  std::vector<std::uint8_t> bytes_;
};

}  // namespace nnproof

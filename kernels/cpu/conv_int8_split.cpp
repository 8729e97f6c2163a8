// SPDX-License-Identifier: Apache-2.0
// The int8 convolution's split of 64-bit inputs (a pool of squares' sums) into bytes, eight
// samples at a time: compiled for AVX-512 and AVX2 beside a portable build (target clones), where
// the header's loop, a transpose per sample in the baseline's scalar code, was 6% of CIFAR-size's
// proof at batch 256.
#include <cstring>

#include "core/simd/x86.hpp"
#include "kernels/cpu/conv_int8_bytes.hpp"

namespace nnproof::conv_bytes {

namespace {
using Lanes = std::uint64_t __attribute__((vector_size(64)));  // eight samples' values
constexpr std::size_t kLanes = 8;
}  // namespace

NNP_CLONES_V4_V3 void split_eight_channels(const std::uint64_t* const (&rows)[8], std::size_t n, std::size_t L,
                                           std::uint8_t* dst, std::size_t sample_stride, std::size_t plane_stride) {
  std::size_t i0 = 0;
  for (; i0 + kLanes <= n; i0 += kLanes) {
    Lanes v[8];  // v[r]: channel r's values of samples i0 .. i0 + 7
    for (std::size_t r = 0; r < 8; ++r) std::memcpy(&v[r], rows[r] + i0, sizeof(Lanes));
    transpose_bytes_8x8(v);  // v[l] lane i: byte l of the eight channels' values of sample i0 + i
    for (std::size_t l = 0; l < L; ++l) {
      std::uint64_t words[kLanes];
      std::memcpy(words, &v[l], sizeof words);
      for (std::size_t i = 0; i < kLanes; ++i)
        std::memcpy(dst + (i0 + i) * sample_stride + l * plane_stride, &words[i], 8);
    }
  }
  for (std::size_t i = i0; i < n; ++i) {
    std::uint64_t v[8];
    for (std::size_t r = 0; r < 8; ++r) v[r] = rows[r][i];
    transpose_bytes_8x8(v);
    for (std::size_t l = 0; l < L; ++l) std::memcpy(dst + i * sample_stride + l * plane_stride, &v[l], 8);
  }
}

}  // namespace nnproof::conv_bytes

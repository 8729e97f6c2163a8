// SPDX-License-Identifier: Apache-2.0
// The vector kernels of a sum pool of squares (kernels/cpu/square_pool.hpp) and of the int8
// convolution's split of 64-bit inputs (split_eight_channels) against scalar 128-bit references,
// at their bounds, for every tail length of the vector loops.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/conv_int8_bytes.hpp"
#include "kernels/cpu/square_pool.hpp"
#include "kernels/cpu/structured_limbs.hpp"

namespace nnproof {
namespace {

// A value of at most `bits` bits in magnitude, either sign: often the extremes.
std::int64_t pick_signed(std::mt19937_64& rng, unsigned bits) {
  const std::int64_t top = (std::int64_t{1} << bits) - 1;
  switch (rng() % 5) {
    case 0:
      return top;
    case 1:
      return -top;
    case 2:
      return 0;
    default:
      return static_cast<std::int64_t>(rng() & static_cast<std::uint64_t>(top)) * (rng() % 2 ? 1 : -1);
  }
}

TEST(SquarePool, AddSquaresU64IsTheSumOfSquares) {
  std::mt19937_64 rng(11);
  for (std::size_t m = 0; m <= 37; ++m) {
    std::vector<std::int32_t> x(m);
    std::vector<std::uint64_t> sums(m), expected(m);
    for (int tap = 0; tap < 3; ++tap) {
      for (std::size_t k = 0; k < m; ++k) {
        x[k] = rng() % 4 == 0 ? INT32_MIN : static_cast<std::int32_t>(rng());
        expected[k] += static_cast<std::uint64_t>(static_cast<std::int64_t>(x[k]) * x[k]);
      }
      add_squares_u64(x.data(), m, sums.data());
    }
    EXPECT_EQ(sums, expected) << "m = " << m;
  }
}

// The square halves' limbs against the exact 128-bit sums cut by cut_unsigned_limbs31, for 1 to
// kSquareHalvesTaps taps of entries up to 2^kSquareHalvesBits - 1 in magnitude and n = 1..4 limbs;
// limb rows past n are not written.
TEST(SquarePool, SquareHalvesAreTheSumsLimbs) {
  std::mt19937_64 rng(12);
  constexpr std::int32_t kUnwritten = -7;
  for (std::size_t m : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{32}, std::size_t{45}})
    for (std::size_t taps = 1; taps <= kSquareHalvesTaps; ++taps)
      for (unsigned bits : {kSquareHalvesBits, 47u, 31u, 5u})
        for (unsigned n = 1; n <= 4; ++n) {
          std::vector<std::uint64_t> lo(m), mid(m), hi(m);
          const SquareHalvesSums s{lo.data(), mid.data(), hi.data()};
          std::vector<u128> exact(m);
          for (std::size_t t = 0; t < taps; ++t) {
            std::vector<std::int64_t> x(m);
            for (std::size_t k = 0; k < m; ++k) {
              x[k] = pick_signed(rng, bits);
              exact[k] += static_cast<u128>(static_cast<i128>(x[k]) * x[k]);
            }
            add_square_halves(x.data(), m, s);
          }
          std::vector<std::int32_t> limbs(5 * m, kUnwritten), expected(5 * m, kUnwritten);
          cut_square_halves(s, m, n, limbs.data(), m);
          for (std::size_t k = 0; k < m; ++k) cut_unsigned_limbs31(exact[k], n, expected.data() + k, m);
          ASSERT_EQ(limbs, expected) << "m = " << m << ", taps = " << taps << ", bits = " << bits << ", n = " << n;
        }
}

// split_eight_channels against the bytes of each value, for every n up to two vectors and a tail,
// every L up to 8, with strides that interleave the samples' and the planes' bytes.
TEST(SquarePool, SplitEightChannelsCutsEachValueIntoItsBytes) {
  std::mt19937_64 rng(13);
  for (std::size_t n = 0; n <= 19; ++n)
    for (std::size_t L = 1; L <= 8; ++L) {
      std::array<std::vector<std::uint64_t>, 8> values;
      const std::uint64_t* rows[8];
      for (std::size_t r = 0; r < 8; ++r) {
        values[r].resize(n);
        for (auto& v : values[r]) v = rng();
        rows[r] = values[r].data();
      }
      const std::size_t plane_stride = 8 + 3, sample_stride = L * plane_stride + 5;
      std::vector<std::uint8_t> dst(n * sample_stride + 8, 0xA5), expected(dst);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t l = 0; l < L; ++l)
          for (std::size_t r = 0; r < 8; ++r)
            expected[i * sample_stride + l * plane_stride + r] = static_cast<std::uint8_t>(values[r][i] >> (8 * l));
      conv_bytes::split_eight_channels(rows, n, L, dst.data(), sample_stride, plane_stride);
      ASSERT_EQ(dst, expected) << "n = " << n << ", L = " << L;
    }
}

}  // namespace
}  // namespace nnproof

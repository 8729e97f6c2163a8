// SPDX-License-Identifier: Apache-2.0
// The vector kernels of a sum pool of squares (kernels/cpu/square_pool.hpp) and of the int8
// convolution's split of 64-bit inputs (split_eight_channels) against scalar 128-bit references,
// at their bounds, for every tail length of the vector loops; and the alignment of the tables they
// read (UninitializedVector).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "kernels/cpu/conv_int8_bytes.hpp"
#include "kernels/cpu/narrow_forward.hpp"
#include "kernels/cpu/square_pool.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/uninitialized.hpp"

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

// Every lane at the halves' ceiling: four taps of +-(2^60 - 1) (lo reaches 4 (2^31 - 1)^2, just
// below 2^64), and |x| = 2^31 - 1 (a1 = 0), 2^31 (a0 = 0) and 1.
TEST(SquarePool, SquareHalvesAtTheirCeiling) {
  const std::int64_t top = (std::int64_t{1} << kSquareHalvesBits) - 1;
  const std::vector<std::int64_t> lane_values = {top, -top, (std::int64_t{1} << 31) - 1, std::int64_t{1} << 31, -1};
  const std::size_t m = lane_values.size();
  std::vector<std::uint64_t> lo(m), mid(m), hi(m);
  const SquareHalvesSums s{lo.data(), mid.data(), hi.data()};
  std::vector<u128> exact(m);
  for (std::size_t t = 0; t < kSquareHalvesTaps; ++t) {
    std::vector<std::int64_t> x(m);
    for (std::size_t k = 0; k < m; ++k) {
      x[k] = t % 2 ? -lane_values[k] : lane_values[k];
      exact[k] += static_cast<u128>(static_cast<i128>(x[k]) * x[k]);
    }
    add_square_halves(x.data(), m, s);
  }
  std::vector<std::int32_t> limbs(4 * m), expected(4 * m);
  cut_square_halves(s, m, 4, limbs.data(), m);
  for (std::size_t k = 0; k < m; ++k) cut_unsigned_limbs31(exact[k], 4, expected.data() + k, m);
  EXPECT_EQ(limbs, expected);
  EXPECT_THROW(cut_square_halves(s, m, 5, limbs.data(), m), std::logic_error);
}

// A 2 x 2 sum pool of an int64 table's squares into limb planes (pool_square_halves_into) against
// the exact 128-bit sums cut by cut_unsigned_limbs31, for batches around the planes' 32-sample
// blocks and the pool's 256-sample chunks, rows of a longer stride; and the pools it does not take.
TEST(SquarePool, PoolSquareHalvesIntoIsTheExactPoolsLimbs) {
  std::mt19937_64 rng(14);
  ConvShape c;
  c.groups = c.in_channels = c.out_channels = 3, c.in_h = c.in_w = 6;
  c.kernel_h = c.kernel_w = c.stride_h = c.stride_w = 2;
  const LinearOp pool = LinearOp::sum_pool(c);
  const std::int64_t top = (std::int64_t{1} << kSquareHalvesBits) - 1;
  for (std::size_t batch : {1, 31, 33, 255, 256, 257, 300}) {
    const std::size_t in_stride = batch + 3;
    NarrowTable narrow;
    narrow.bits = kSquareHalvesBits;
    narrow.v64.resize(pool.cols * in_stride);
    for (auto& x : narrow.v64) x = rng() % 3 == 0 ? (rng() % 2 ? top : -top) : pick_signed(rng, kSquareHalvesBits);
    ASSERT_TRUE(pools_square_halves(pool, narrow));
    const unsigned n = pooled_square_limbs<Fp127>(pool, narrow);
    ASSERT_EQ(n, 4u);
    LimbPlanes<std::int32_t> planes(pool.rows, batch, n);
    pool_square_halves_into(pool, narrow.v64.data(), in_stride, batch, planes);
    const std::size_t stride = pool.rows * kLimbBlock;
    for (std::size_t a = 0; a < pool.rows; ++a)
      for (std::size_t k = 0; k < batch; ++k) {
        u128 sum = 0;
        for_each_entry(pool, a, [&](std::size_t j, std::int64_t) {
          const i128 x = narrow.v64[j * in_stride + k];
          sum += static_cast<u128>(x * x);
        });
        std::int32_t want[4];
        cut_unsigned_limbs31(sum, n, want, 1);
        for (unsigned l = 0; l < n; ++l)
          ASSERT_EQ(planes.at(a, k)[l * stride], want[l]) << "batch " << batch << ", row " << a << ", sample " << k;
      }
  }
  NarrowTable narrow;
  narrow.v64.resize(1);
  narrow.bits = kSquareHalvesBits + 1;
  EXPECT_FALSE(pools_square_halves(pool, narrow));  // entries too wide
  narrow.bits = kSquareHalvesBits;
  c.kernel_h = c.kernel_w = 3;
  EXPECT_FALSE(pools_square_halves(LinearOp::sum_pool(c), narrow));  // nine taps
  NarrowTable narrow32;
  narrow32.v.resize(1);
  narrow32.bits = 20;
  EXPECT_FALSE(pools_square_halves(pool, narrow32));  // int32 entries
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

// Whole cache lines from a table's first entry, for every size and element type (malloc alone
// gives 16 bytes), and through a vector's growth.
TEST(UninitializedVector, TablesAreCacheLineAligned) {
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; };
  for (std::size_t n : {1, 3, 1000, 1 << 20, (1 << 22) + 5}) {
    UninitializedVector<std::int64_t> v64(n);
    UninitializedVector<std::int32_t> v32(n);
    UninitializedVector<Fp127> f(n);
    EXPECT_TRUE(aligned(v64.data()) && aligned(v32.data()) && aligned(f.data())) << n;
    v32.resize(3 * n + 1);
    EXPECT_TRUE(aligned(v32.data())) << n;
  }
}

// The mapping that holds p, from /proc/self/smaps: its range and whether its VmFlags carry "hg"
// (madvise(MADV_HUGEPAGE) asked for it), or nullopt where smaps says nothing of it.
struct Mapping {
  std::uintptr_t begin = 0, end = 0;
  bool huge_advised = false;
};
std::optional<Mapping> mapping_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::optional<Mapping> inside;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (line.rfind("VmFlags:", 0) == 0) {
      if (inside) {
        inside->huge_advised = (line + " ").find(" hg ") != std::string::npos;
        return inside;
      }
    } else if (head >> std::hex >> begin >> dash >> end && dash == '-' && line.find(':') > line.find(' ')) {
      inside.reset();
      if (begin <= at && at < end) inside = Mapping{begin, end, false};
    }
  }
  return std::nullopt;
}

// An address in the advised part of a block: its first 2 MiB boundary.
const void* inner(const void* p) {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  return reinterpret_cast<const void*>((reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1));
}

// A HugePageVector's large blocks are advised for huge pages (a hidden Z's rows are 4 KiB apart:
// one TLB entry a row with small pages), over pages of the block only; an UninitializedVector's
// and a small HugePageVector's are not; values survive growth past the threshold.
TEST(UninitializedVector, LargeHugePageTablesAreAdvised) {
  // The control: a block advised directly. Where the kernel does not show it (no THP, no smaps
  // VmFlags, an emulator), there is nothing to check.
  UninitializedVector<std::int32_t> control(std::size_t{8} << 20);
  advise_huge_pages(control.data(), control.size() * sizeof(std::int32_t));
  const std::optional<Mapping> shown = mapping_of(inner(control.data()));
  if (!shown || !shown->huge_advised) GTEST_SKIP() << "this kernel does not show MADV_HUGEPAGE in smaps";
  constexpr std::size_t kEntries = std::size_t{8} << 20;  // 32 MiB of int32
  HugePageVector<std::int32_t> huge(kEntries);
  UninitializedVector<std::int32_t> plain(kEntries);
  const std::optional<Mapping> advised = mapping_of(inner(huge.data()));
  ASSERT_TRUE(advised);
  EXPECT_TRUE(advised->huge_advised);
  // madvise splits the mapping at the advised range: it lies within the block.
  const auto data = reinterpret_cast<std::uintptr_t>(huge.data());
  EXPECT_GE(advised->begin, data);
  EXPECT_LE(advised->end, data + kEntries * sizeof(std::int32_t));
  EXPECT_EQ(data % 64, 0u);
  const std::optional<Mapping> other = mapping_of(inner(plain.data()));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->huge_advised);
  HugePageVector<std::int32_t> grows(1000);  // 4 KB: below kHugePageTableBytes
  for (std::size_t i = 0; i < grows.size(); ++i) grows[i] = static_cast<std::int32_t>(i * 7);
  grows.resize(kEntries);
  for (std::size_t i = 0; i < 1000; ++i) ASSERT_EQ(grows[i], static_cast<std::int32_t>(i * 7));
  const std::optional<Mapping> grown = mapping_of(inner(grows.data()));
  ASSERT_TRUE(grown);
  EXPECT_TRUE(grown->huge_advised);
}

}  // namespace
}  // namespace nnproof

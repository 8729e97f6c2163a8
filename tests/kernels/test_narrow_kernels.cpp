// SPDX-License-Identifier: Apache-2.0
// The narrow tables' integer kernels (kernels/cpu/narrow_table.hpp): the m127 group sums and first
// fold of int32 and int64 rows against the field's portable kernels on the widened rows, at their
// bounds; square_group_sums' choice of route at and past each bound; and the int8 convolution's
// int64 join and its byte rebuild (recombine_limbs_u64) against the field's.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/carried_rounds.hpp"
#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/conv_int8_bytes.hpp"
#include "kernels/cpu/conv_int8_kernel.hpp"
#include "kernels/cpu/eq_parallel.hpp"
#include "kernels/cpu/int8_limbs.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/square_group_sums.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "tests/kernels/narrow_support.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

using testing::extreme_corner;
using testing::widened;

// An integer kernel of the group sums (m127_narrow_group_sums, m127_wide_group_sums) against the
// field's portable group sums of the same rows widened: entries at +-top (every extension and
// product at its largest), zeros and random ones; a row shorter than a vector and rows past the
// accumulators' flush (kFlushColumns, 4096).
template <class T, class Kernel>
void expect_group_sums_kernel_is_the_field_kernel(Kernel kernel, T top, std::mt19937_64& rng) {
  for (std::size_t cols : {std::size_t{3}, std::size_t{256}, std::size_t{8200}}) {
    std::vector<Fp127> eq(cols);
    for (auto& e : eq) e = testing::random_element<Fp127>(rng);
    const M127ColumnWeights weights{std::span<const Fp127>(eq)};
    // Fills: +-top, sparse, random, and +-(top + 1) / 2, powers of two (products with a zero low
    // limb, such as -2^52 at 27 bits).
    for (int fill = 0; fill < 4; ++fill) {
      std::array<std::vector<T>, 4> rows;
      std::array<std::vector<Fp127>, 4> wide;
      for (std::size_t i = 0; i < 4; ++i) {
        rows[i].resize(cols);
        for (std::size_t k = 0; k < cols; ++k) {
          const T r = std::uniform_int_distribution<T>(-top, top)(rng);
          rows[i][k] = fill == 0   ? extreme_corner(i, k, 1) * top
                       : fill == 1 ? (k % 3 ? 0 : r)
                       : fill == 2 ? r
                                   : extreme_corner(i, k, 1) * ((top + 1) / 2);
        }
        wide[i].resize(cols);
        widen_entries(rows[i].data(), cols, wide[i].data());
      }
      const auto want = group_sums_portable<Fp127, Fp127>(wide[0].data(), wide[1].data(), wide[2].data(),
                                                          wide[3].data(), std::span<const Fp127>(eq));
      EXPECT_EQ(kernel(rows[0].data(), rows[1].data(), rows[2].data(), rows[3].data(), weights), want)
          << sizeof(T) * 8 << "-bit entries, " << cols << " columns, fill " << fill;
      // Null upper rows: zero rows (a table's padding), not read.
      const std::vector<Fp127> zeros(cols, Fp127::zero());
      EXPECT_EQ(kernel(rows[0].data(), rows[1].data(), nullptr, nullptr, weights),
                (group_sums_portable<Fp127, Fp127>(wide[0].data(), wide[1].data(), zeros.data(), zeros.data(),
                                                   std::span<const Fp127>(eq))))
          << sizeof(T) * 8 << "-bit entries, zero upper rows, " << cols << " columns, fill " << fill;
    }
  }
}

TEST(NarrowGroupSums, TheIntegerKernelIsTheFieldKernel) {
  const M127NarrowGroupSums kernel = m127_narrow_group_sums();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(305);
  expect_group_sums_kernel_is_the_field_kernel(kernel, (std::int32_t{1} << kNarrowProductBits) - 1, rng);
}

// Int32 entries of at most kSmallNarrowEntryBits: the kernel of one-limb offset products, at its
// top and at a few bits.
TEST(NarrowGroupSums, TheSmallIntegerKernelIsTheFieldKernel) {
  const M127NarrowGroupSums kernel = m127_narrow_group_sums(kSmallNarrowEntryBits);
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  ASSERT_NE(kernel, m127_narrow_group_sums());
  ASSERT_EQ(m127_narrow_group_sums(kSmallNarrowEntryBits + 1), m127_narrow_group_sums());
  auto rng = testing::make_rng(311);
  for (unsigned bits : {kSmallNarrowEntryBits, 13u, 2u})
    expect_group_sums_kernel_is_the_field_kernel(kernel, (std::int32_t{1} << bits) - 1, rng);
}

TEST(NarrowGroupSums, TheWideKernelIsTheFieldKernel) {
  const M127WideGroupSums kernel = m127_wide_group_sums();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(308);
  expect_group_sums_kernel_is_the_field_kernel(kernel, (std::int64_t{1} << kWideEntryBits) - 1, rng);
}

// Entries of at most kSmallWideEntryBits: the kernel of two-limb offset products, at its top and at
// a few bits (products of both signs, and zero, at every size).
TEST(NarrowGroupSums, TheSmallWideKernelIsTheFieldKernel) {
  const M127WideGroupSums kernel = m127_wide_group_sums(kSmallWideEntryBits);
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  ASSERT_NE(kernel, m127_wide_group_sums());
  ASSERT_EQ(m127_wide_group_sums(kSmallWideEntryBits + 1), m127_wide_group_sums());
  auto rng = testing::make_rng(310);
  for (unsigned bits : {kSmallWideEntryBits, 26u, 3u})
    expect_group_sums_kernel_is_the_field_kernel(kernel, (std::int64_t{1} << bits) - 1, rng);
}

// square_group_sums of a narrow table at an integer kernel's bound and past it (int32: 21 to 23
// around the small kernel's bound, 27 to 31 bits; int64: 48 to 50 around the small kernel's bound,
// 59 to 62), entries at +-(2^bits - 1) in
// extreme_corner's pattern: the same V and group sums as the widened table's, whichever route the
// bound picks (past it the rows are widened).
TEST(NarrowGroupSums, TheBoundPicksAnExactRoute) {
  auto rng = testing::make_rng(307);
  for (unsigned bits : {21u, 22u, 23u, 27u, 28u, 29u, 31u, 48u, 49u, 50u, 59u, 60u, 61u, 62u}) {
    const std::size_t rows = 16, cols = 64;
    auto narrow = std::make_shared<NarrowTable>();
    narrow->bits = bits;
    const std::int64_t top = (std::int64_t{1} << bits) - 1;
    (bits > 31 ? narrow->v64.resize(rows * cols) : narrow->v.resize(rows * cols));
    narrow->real_rows = bits % 2 ? rows : 11;  // odd widths: every row real; even: rows 11 on are padding
    for (std::size_t r = 0; r < rows; ++r)     // row r is row r / (rows / 4) of its group
      for (std::size_t k = 0; k < cols; ++k) {
        const std::int64_t x = r >= narrow->real_rows ? 0 : extreme_corner(r / (rows / 4), k + r, 1) * top;
        if (bits > 31)
          narrow->v64[r * cols + k] = x;
        else
          narrow->v[r * cols + k] = static_cast<std::int32_t>(x);
      }
    const Table2D<Fp127> Z = narrow_table2d<Fp127>(rows, cols, narrow), Zw = widened(Z);
    const std::vector<Fp127> ec = eq_table<Fp127>(testing::random_point<Fp127>(rng, cols));
    std::vector<Fp127> sums, sums_w;
    const auto V = square_group_sums<Fp127, Fp127>(Z, std::span<const Fp127>(ec), sums);
    const auto Vw = square_group_sums<Fp127, Fp127>(Zw, std::span<const Fp127>(ec), sums_w);
    EXPECT_EQ(V, Vw) << bits << " bits";
    EXPECT_EQ(sums, sums_w) << bits << " bits";
  }
}

// An integer kernel of the first fold (m127_narrow_fold_two, m127_wide_fold_two) against the
// field's portable fold of the rows widened: entries anywhere in the kernel's range, +-top
// included, random challenges, a row shorter than a vector.
template <class T, class Kernel>
void expect_fold_kernel_is_the_field_kernel(Kernel kernel, T top, std::mt19937_64& rng) {
  for (std::size_t cols : {std::size_t{5}, std::size_t{256}}) {
    for (int fill = 0; fill < 2; ++fill) {
      std::array<std::vector<T>, 4> rows;
      std::array<std::vector<Fp127>, 4> wide;
      for (std::size_t i = 0; i < 4; ++i) {
        rows[i].resize(cols);
        for (std::size_t k = 0; k < cols; ++k)
          rows[i][k] = fill == 0 ? extreme_corner(i, k, 1) * top : std::uniform_int_distribution<T>(-top, top)(rng);
        wide[i].resize(cols);
        widen_entries(rows[i].data(), cols, wide[i].data());
      }
      const Fp127 rho1 = testing::random_element<Fp127>(rng), rho2 = testing::random_element<Fp127>(rng);
      std::vector<Fp127> want(cols), got(cols);
      fold_two_portable<Fp127, Fp127>(wide[0].data(), wide[1].data(), wide[2].data(), wide[3].data(), rho1, rho2,
                                      want.data(), cols);
      kernel(rows[0].data(), rows[1].data(), rows[2].data(), rows[3].data(), rho1, rho2, got.data(), cols);
      EXPECT_EQ(got, want) << sizeof(T) * 8 << "-bit entries, " << cols << " columns, fill " << fill;
      // Null upper rows: zero rows, not read.
      const std::vector<Fp127> zeros(cols, Fp127::zero());
      fold_two_portable<Fp127, Fp127>(wide[0].data(), wide[1].data(), zeros.data(), zeros.data(), rho1, rho2,
                                      want.data(), cols);
      kernel(rows[0].data(), rows[1].data(), nullptr, nullptr, rho1, rho2, got.data(), cols);
      EXPECT_EQ(got, want) << sizeof(T) * 8 << "-bit entries, zero upper rows, " << cols << " columns";
    }
  }
}

TEST(NarrowFoldTwo, TheIntegerKernelIsTheFieldKernel) {
  const M127NarrowFoldTwo kernel = m127_narrow_fold_two();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(306);
  expect_fold_kernel_is_the_field_kernel(kernel, std::numeric_limits<std::int32_t>::max(), rng);
}

TEST(NarrowFoldTwo, TheWideKernelIsTheFieldKernel) {
  const M127WideFoldTwo kernel = m127_wide_fold_two();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(309);
  expect_fold_kernel_is_the_field_kernel(kernel, (std::int64_t{1} << kWideEntryBits) - 1, rng);
}

// Entries of at most kSmallWideEntryBits: the fold of one-limb offset differences, at its top
// (every difference at its largest) and at a few bits.
TEST(NarrowFoldTwo, TheSmallWideKernelIsTheFieldKernel) {
  const M127WideFoldTwo kernel = m127_wide_fold_two(kSmallWideEntryBits);
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  ASSERT_NE(kernel, m127_wide_fold_two());
  ASSERT_EQ(m127_wide_fold_two(kSmallWideEntryBits + 1), m127_wide_fold_two());
  auto rng = testing::make_rng(311);
  for (unsigned bits : {kSmallWideEntryBits, 20u, 2u})
    expect_fold_kernel_is_the_field_kernel(kernel, (std::int64_t{1} << bits) - 1, rng);
}

// The int8 convolution's int64 join (int8_conv_narrow's writer, mod 2^64) is its field join at the
// bound: 64-bit inputs at 2^raw - 1, every weight of a channel at an extreme of int8 (or of int16:
// two halves, lo + 256 hi; or int8's with two int16 entries: clamped, residual taps), biases near
// 2^58, outputs near 2^60. 5 channels in blocks of a few channels and samples, and 16 channels
// (eight at a time, join_eight_channels) in blocks of 16 samples (eight at a time in vectors) and a
// last block of 5 (a tail past them).
TEST(ConvInt8Narrow, TheInt64JoinIsTheFieldJoinAtTheBound) {
  auto rng = testing::make_rng(306);
  for (const std::size_t out_c : {std::size_t{5}, std::size_t{16}})
    for (const int kind : {0, 1, 2}) {        // int8, clamped, int16
      if (kind == 1 && out_c == 5) continue;  // 360 entries: none may leave int8
      const bool int16 = kind == 2;
      ConvShape c;
      c.in_channels = 8, c.out_channels = out_c, c.in_h = c.in_w = 6, c.kernel_h = c.kernel_w = 3;
      c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
      const std::int64_t hi = int16 ? 32639 : 127, lo = int16 ? -32768 : -128;  // 32639: the most int16 splits
      std::vector<std::int64_t> w(c.kernel_size());
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i / (w.size() / out_c)) % 2 ? hi : lo;
      if (kind == 1) w[3] = 32767, w[w.size() - 2] = -20000;  // 1152 entries: two may leave int8
      const LinearOp op = LinearOp::convolution(c, WeightMatrix(std::move(w)));
      if (!int8_conv_exact(op)) GTEST_SKIP() << "no VNNI or AMX here: the int8 route does not run";
      if (kind == 1) {
        ASSERT_TRUE(conv_kernel::clamped_kernel_fits(op));
      }
      const unsigned raw = kNarrowWideBits - 1 - ceil_log2(max_abs_row_sum(op) + 1);
      const std::size_t batch = 21;
      std::vector<std::uint64_t> in(op.cols * batch);
      for (std::size_t i = 0; i < in.size(); ++i)
        in[i] = i % 5 == 4 ? rng() >> (64 - raw) : (std::uint64_t{1} << raw) - 1;
      std::vector<std::int64_t> bias(op.rows);
      std::vector<Fp127> fbias(op.rows);
      for (std::size_t a = 0; a < op.rows; ++a) {
        bias[a] = (a % 3 == 0 ? -1 : 1) * static_cast<std::int64_t>(rng() >> 6);  // below 2^58
        fbias[a] = Fp127::from_int(bias[a]);
      }
      ASSERT_LE(output_bound_bits(op, raw, fbias.data()), kNarrowWideBits);
      std::vector<std::int64_t> got(op.rows * batch);
      std::vector<Fp127> want(op.rows * batch);
      std::uint64_t magnitudes = 0;  // the join's OR of |v| - [v < 0] (int8_conv_narrow's measured width)
      apply_conv_int8_into(op, in.data(), batch, batch, raw, NarrowOutput{got.data(), batch, bias.data(), &magnitudes},
                           out_c == 5 ? std::size_t{6} << 10 : kConvChunkBytes);
      apply_conv_int8_into(op, in.data(), batch, batch, raw, OpOutput<Fp127>{want.data(), batch, fbias.data()});
      const std::string where = std::to_string(out_c) + " channels, " +
                                (kind == 0   ? "int8"
                                 : kind == 1 ? "clamped"
                                             : "int16");
      std::int64_t most = 0;
      std::uint64_t ors = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(Fp127::from_int(got[i]), want[i]) << where << ", entry " << i;
        most = std::max(most, got[i] < 0 ? -got[i] : got[i]);
        ors |= static_cast<std::uint64_t>(got[i] ^ (got[i] >> 63));
      }
      EXPECT_GE(most, std::int64_t{1} << (kNarrowWideBits - 3)) << where;
      for (const std::int64_t b : bias) ors |= static_cast<std::uint64_t>(b ^ (b >> 63));
      EXPECT_EQ(magnitudes, ors) << where;
    }
}

// join_eight_channels (conv_int8_join.cpp: eight channels x eight samples transposed in vector
// lanes, then a scalar tail) against the scalar join it replaces, for every count of samples 0 to
// 20 (none, a tail alone, whole vectors, both), a stride past the eight channels, rows at an odd
// offset, with and without a bias, values at int64's ends: the rows' entries, the OR of
// |v| - [v < 0], and the entries around each run left as they were.
TEST(JoinEightChannels, EqualsTheScalarJoin) {
  auto rng = testing::make_rng(311);
  constexpr std::size_t kStride = 11, kRow = 24;
  constexpr std::int64_t kUntouched = 0x5a5a5a5a5a5a5a5a;
  for (std::size_t n = 0; n <= 20; ++n)
    for (const bool with_bias : {false, true}) {
      std::vector<std::uint64_t> z(20 * kStride + 8);
      for (std::size_t i = 0; i < z.size(); ++i)
        z[i] = i % 7 == 0 ? std::uint64_t{1} << 63 : i % 7 == 1 ? ~std::uint64_t{0} : rng();
      std::uint64_t bias[8] = {};
      if (with_bias)
        for (auto& b : bias) b = rng() >> 4;
      std::vector<std::int64_t> out(8 * kRow, kUntouched);
      std::int64_t* rows[8];
      for (std::size_t r = 0; r < 8; ++r) rows[r] = out.data() + r * kRow + 1;
      const std::uint64_t got = conv_bytes::join_eight_channels(z.data(), kStride, n, bias, rows);
      std::uint64_t ors = 0;
      for (std::size_t r = 0; r < 8; ++r)
        for (std::size_t i = 0; i < kRow - 1; ++i) {
          const std::uint64_t v = i < n ? z[i * kStride + r] + bias[r] : 0;
          ors |= v ^ static_cast<std::uint64_t>(static_cast<std::int64_t>(v) >> 63);
          ASSERT_EQ(rows[r][i], i < n ? static_cast<std::int64_t>(v) : kUntouched)
              << n << " samples, channel " << r << ", sample " << i;
        }
      for (std::size_t r = 0; r < 8; ++r) EXPECT_EQ(out[r * kRow], kUntouched) << "before channel " << r;
      EXPECT_EQ(got, ors) << n << " samples" << (with_bias ? ", a bias" : "");
    }
}

// recombine_limbs_u64 for every byte count 1 to 16 (past the eighth, bytes that weigh nothing mod
// 2^64) against a scalar wrapping sum: random int32 sums of both signs and int32's ends, a count
// that leaves a tail past the vectors.
TEST(RecombineLimbsU64, EveryByteCountIsTheWrappingSum) {
  auto rng = testing::make_rng(310);
  const std::size_t n = 37, stride = 41;
  std::vector<std::int32_t> g(16 * stride);
  for (std::size_t i = 0; i < g.size(); ++i)
    g[i] = i % 11 == 0   ? std::numeric_limits<std::int32_t>::min()
           : i % 11 == 1 ? std::numeric_limits<std::int32_t>::max()
                         : static_cast<std::int32_t>(rng());
  for (std::size_t L = 1; L <= 16; ++L) {
    std::vector<std::uint64_t> got(n);
    recombine_limbs_u64(g.data(), stride, L, n, got.data());
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t want = 0;
      for (std::size_t l = 0; l < std::min<std::size_t>(L, 8); ++l)
        want += static_cast<std::uint64_t>(static_cast<std::int64_t>(g[l * stride + i])) << (8 * l);
      ASSERT_EQ(got[i], want) << L << " bytes, entry " << i;
    }
  }
}

// sum_taps_int16 (VNNI pairs into int32, where the CPU has them) against int64 sums of the same
// products: a row of 27 taps with every |x w| near the most whose sum stays below 2^31 (|x| up to
// 2^15 - 1, |w| up to 2400, signs by sample so that both signs reach the top), a pair of taps at
// int16's ends (2 x 32768 x 32767, just below 2^31), one tap, an odd count (its tap unpaired).
TEST(SumTapsInt16, ThePairSumsAreTheInt64Sums) {
  auto rng = testing::make_rng(313);
  constexpr std::size_t B = kLimbBlock, cols = 40;
  std::vector<std::int16_t> block(cols * B);
  struct Row {
    std::vector<std::uint32_t> in;
    std::vector<std::int32_t> w;
  };
  std::vector<Row> rows;
  for (std::size_t taps : {std::size_t{27}, std::size_t{1}, std::size_t{4}}) {
    Row r;
    for (std::size_t t = 0; t < taps; ++t) {
      r.in.push_back(static_cast<std::uint32_t>((t * 7) % cols));
      r.w.push_back(t % 3 == 0   ? 2400
                    : t % 3 == 1 ? -2400
                                 : std::uniform_int_distribution<std::int32_t>(-2400, 2400)(rng));
    }
    rows.push_back(r);
  }
  rows.push_back(Row{{0, 1}, {-32768, -32768}});
  for (std::size_t j = 0; j < cols; ++j)
    for (std::size_t k = 0; k < B; ++k) {
      const bool up = (k % 2 == 0) == (j % 3 == 0 || j == 0);  // with the weights' signs: sums of one sign
      // every sample its own value, so that a misplaced lane shows
      block[j * B + k] =
          j < 2 ? static_cast<std::int16_t>(-32767 + static_cast<int>(k % 2))
                : static_cast<std::int16_t>(up ? 32767 - static_cast<int>(k) : -32767 + static_cast<int>(k));
    }
  for (const Row& r : rows) {
    std::array<std::int64_t, B> got{}, want{};
    for (std::size_t t = 0; t < r.in.size(); ++t)
      for (std::size_t k = 0; k < B; ++k) want[k] += std::int64_t{r.w[t]} * block[r.in[t] * B + k];
    for (std::size_t k = 0; k < B; ++k) ASSERT_LT(want[k] < 0 ? -want[k] : want[k], std::int64_t{1} << 31);
    sum_taps_int16(block.data(), r.in.data(), r.w.data(), r.in.size(), got.data());
    EXPECT_EQ(got, want) << r.in.size() << " taps";
  }
}

}  // namespace
}  // namespace nnproof

namespace nnproof {
namespace {

// eq_table_parallel (eq_parallel.hpp: two half tables and a product an entry) is eq_table, entry
// for entry, for every size up to 2^16, random points and points of 0s and 1s, both extensions.
template <class K>
void expect_parallel_eq_tables(std::uint64_t seed) {
  auto rng = testing::make_rng(seed);
  for (std::size_t n = 0; n <= 16; ++n) {
    std::vector<K> x = testing::random_point<K>(rng, std::size_t{1} << n);  // n coordinates
    EXPECT_EQ(eq_table_parallel<K>(x), eq_table<K>(x)) << n << " variables";
    for (auto& c : x) c = rng() % 2 ? K::one() : K::zero();
    EXPECT_EQ(eq_table_parallel<K>(x), eq_table<K>(x)) << n << " boolean variables";
  }
}

TEST(EqTableParallel, IsTheEqTable) {
  expect_parallel_eq_tables<Fp127>(241);
  expect_parallel_eq_tables<Fp61x2>(242);
}

// CarriedRounds' weighing (m127: a row-dot kernel per kind of sum) against the sums weighed one
// product at a time, through both rounds' values: q(t) of round 1 from eq(s2, b2) and the t = 0,
// 1, 2 sums, and of round 2 at rho1, for 1 to 2^12 groups.
TEST(CarriedRounds, RoundsAreTheDirectlyWeighedSums) {
  auto rng = testing::make_rng(243);
  using K = Fp127;
  for (std::size_t vars = 0; vars <= 12; vars += 3) {
    const std::size_t groups = std::size_t{1} << vars;
    std::vector<K> sums(kGroupSums * groups);
    for (auto& x : sums) x = testing::random_element<K>(rng);
    const std::vector<K> s = testing::random_point<K>(rng, groups);  // vars coordinates
    const std::vector<K> E = eq_table<K>(s);
    std::array<K, kGroupSums> w{};
    for (std::size_t g = 0; g < groups; ++g)
      for (unsigned i = 0; i < kGroupSums; ++i) w[i] += E[g] * sums[kGroupSums * g + i];
    const CarriedRounds<K> rounds(sums, s);
    const K s2 = testing::random_element<K>(rng), rho1 = testing::random_element<K>(rng), one = K::one();
    const std::array<K, 3> r1 = rounds.round1(s2), r2 = rounds.round2(rho1);
    for (unsigned t = 0; t < 3; ++t) {
      const K tt = K::from_int(t);
      const auto at = [&](unsigned b2) { return w[kSumA + b2] + (tt + tt) * w[kSumB + b2] + tt * tt * w[kSumD + b2]; };
      EXPECT_EQ(r1[t], (one - s2) * at(0) + s2 * at(1)) << groups << " groups, t = " << t;
      EXPECT_EQ(r2[t], w[kSumA + t] + (rho1 + rho1) * w[kSumB + t] + rho1 * rho1 * w[kSumD + t]) << groups << " groups";
    }
  }
}

}  // namespace
}  // namespace nnproof

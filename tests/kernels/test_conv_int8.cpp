// SPDX-License-Identifier: Apache-2.0
// The cpu engine's int8 convolution route (conv_int8.hpp: oneDNN u8 x s8 convolutions on the
// input's bytes) against the 128-bit route that the reference engine keeps (structured_forward.hpp's
// apply_op): random convolutions with strides, asymmetric paddings, groups and non-square images,
// int8 kernels at their extremes (-128, 127), inputs random and at p - 1, both fields, batches
// split into one-sample blocks, uneven blocks and one block, and many blocks of output channels.
// Also which ops the route takes.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/conv_int8_kernel.hpp"
#include "kernels/cpu/conv_transpose.hpp"
#include "kernels/cpu/isa.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

// Kernels at their extremes: int8 (-128, 127) or int16 within the route's split (-32768, 32639).
std::vector<std::int64_t> kernel_weights(std::size_t n, bool wide, std::mt19937_64& rng) {
  const std::int64_t lo = wide ? -32768 : -128, hi = wide ? 32639 : 127;
  std::uniform_int_distribution<std::int64_t> d(lo, hi);
  std::vector<std::int64_t> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = i % 5 == 0 ? lo : i % 5 == 1 ? hi : d(rng);
  return w;
}

// A random convolution: 1-3 groups, channels, image sides 3-9, kernels 2-4 (rectangular),
// strides 1-2, paddings 0-2 on each side (each kept below the kernel side), either layout.
LinearOp random_conv(std::mt19937_64& rng, bool wide) {
  const auto pick = [&](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  ConvShape c;
  c.groups = pick(1, 3);
  c.in_channels = c.groups * pick(1, 4);
  c.out_channels = c.groups * pick(1, 4);
  c.in_h = pick(3, 9), c.in_w = pick(3, 9);
  c.kernel_h = pick(2, 3), c.kernel_w = pick(2, 4);
  c.stride_h = pick(1, 2), c.stride_w = pick(1, 2);
  c.pad_top = pick(0, c.kernel_h - 1), c.pad_bottom = pick(0, c.kernel_h - 1);
  c.pad_left = pick(0, c.kernel_w - 1), c.pad_right = pick(0, c.kernel_w - 1);
  // Either layout on either side: dense, or padded to powers of two (format version 3), where the
  // input's padding positions hold values no tap may read and the output's must stay zero.
  c.pow2_in = pick(0, 1) == 1, c.pow2_out = pick(0, 1) == 1;
  return LinearOp::convolution(c, WeightMatrix(kernel_weights(c.kernel_size(), wide, rng)));
}

// With AMX, the convolutions without groups (all of fewer than 32 channels here) fold their
// kernel's columns into the channels (conv_int8_kernel.cpp: fold_kernel_columns): their paddings and
// strides give the folded columns zeros at the image's edges. Grouped ones take the unfolded
// route, which the ConvInt8WithoutAmx run (tests/CMakeLists.txt) takes for all.
template <class F>
class ConvInt8 : public ::testing::Test {};
using Fields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(ConvInt8, Fields);

TYPED_TEST(ConvInt8, EqualsThe128BitRoute) {
  using F = TypeParam;
  if (!int8_limb_gemm_available()) GTEST_SKIP() << "oneDNN's int8 kernels are not exact here (no VNNI or AMX)";
  auto rng = testing::make_rng(230);
  const F top = F::zero() - F::one();
  for (int trial = 0; trial < 24; ++trial) {
    const LinearOp op = random_conv(rng, trial % 2 == 1);   // int16 kernels every other trial
    ASSERT_TRUE(int8_conv_exact(op)) << "trial " << trial;  // small convolutions too, below the engine's threshold
    for (std::size_t batch : {1, 5, 19}) {
      const std::size_t stride = batch + 2;  // the input's rows are longer than the batch
      std::vector<F> in(op.cols * stride);
      const bool extreme = trial % 4 == 3;
      for (auto& x : in) x = extreme ? top : testing::random_element<F>(rng);
      const std::vector<F> want = apply_op(op, in.data(), stride, batch);
      const std::size_t one_sample = 1;  // below a sample's products: blocks of one sample, one channel
      for (std::size_t cap : {one_sample, std::size_t{3} * 16 * 4 * op.rows, kConvChunkBytes})
        EXPECT_EQ(apply_conv_int8(op, in.data(), stride, batch, cap), want)
            << "trial " << trial << " batch " << batch << " chunk bytes " << cap;
    }
  }
}

// Many output channels in blocks: 130 int8 channels, and 66 int16 ones (132 as lo and hi halves),
// their values rebuilt from five bytes (inputs below 2^40, as pooled squares are), batches that
// leave a shorter last block of samples, and bounds that cut the channels into blocks of 1, of a
// divisor, or none (the join's pieces then hold fewer positions than its buffer's samples need).
TYPED_TEST(ConvInt8, ManyChannelBlocksOfShortValues) {
  using F = TypeParam;
  if (!int8_limb_gemm_available()) GTEST_SKIP() << "oneDNN's int8 kernels are not exact here (no VNNI or AMX)";
  auto rng = testing::make_rng(231);
  for (const auto& [out_channels, wide] : {std::pair<std::size_t, bool>{130, false}, {66, true}}) {
    ConvShape c;
    c.in_channels = 3, c.in_h = c.in_w = 5, c.out_channels = out_channels, c.kernel_h = c.kernel_w = 3;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
    const LinearOp op = LinearOp::convolution(c, WeightMatrix(kernel_weights(c.kernel_size(), wide, rng)));
    ASSERT_TRUE(int8_conv_exact(op));
    for (std::size_t batch : {17, 40}) {
      std::vector<F> in(op.cols * batch);
      for (auto& x : in) x = F::from_u128((static_cast<u128>(rng()) << 64 | rng()) >> 88);  // below 2^40
      const std::vector<F> want = apply_op(op, in.data(), batch, batch);
      for (std::size_t cap : {std::size_t{1}, std::size_t{4096}, std::size_t{65536}, kConvChunkBytes})
        EXPECT_EQ(apply_conv_int8(op, in.data(), batch, batch, cap), want)
            << out_channels << " channels, batch " << batch << ", block bytes " << cap;
    }
  }
}

// Eight and sixteen input channels (grouped or not) of values below 2^b, b <= 64: the split
// transposes eight channels' bytes at a time (L <= 8); from field elements and from the 64-bit
// sums a pool of squares writes (the overload with their width), against the 128-bit route.
TYPED_TEST(ConvInt8, EightChannelsAtATimeFromFieldsAndFrom64BitSums) {
  using F = TypeParam;
  if (!int8_limb_gemm_available()) GTEST_SKIP() << "oneDNN's int8 kernels are not exact here (no VNNI or AMX)";
  auto rng = testing::make_rng(232);
  for (const auto& [in_channels, groups] : {std::pair<std::size_t, std::size_t>{8, 1}, {16, 2}, {16, 1}}) {
    ConvShape c;
    c.in_channels = in_channels, c.groups = groups, c.out_channels = 2 * groups;
    c.in_h = 5, c.in_w = 6, c.kernel_h = c.kernel_w = 3, c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
    c.pow2_in = in_channels == 16 && groups == 1;
    const LinearOp op = LinearOp::convolution(c, WeightMatrix(kernel_weights(c.kernel_size(), groups == 2, rng)));
    ASSERT_TRUE(int8_conv_exact(op));
    for (unsigned bits : {1u, 8u, 9u, 40u, 57u, 61u, 64u}) {
      const std::size_t batch = 19;
      std::vector<std::uint64_t> sums(op.cols * batch);
      std::uint64_t any = 0;
      for (auto& x : sums) any |= x = (rng() % 5 == 0 ? ~std::uint64_t{0} : rng()) >> (64 - bits);
      std::vector<F> in(sums.size());
      for (std::size_t i = 0; i < in.size(); ++i) in[i] = F::from_u128(sums[i]);
      const std::vector<F> want = apply_op(op, in.data(), batch, batch);
      if (bits <= F::kBits) {  // field elements: their representatives' bytes
        EXPECT_EQ(apply_conv_int8(op, in.data(), batch, batch), want)
            << in_channels << " channels, " << bits << " bits";
      }
      std::vector<F> got(op.rows * batch);
      apply_conv_int8_into(op, sums.data(), batch, batch, bit_length(any), OpOutput<F>{got.data(), batch});
      EXPECT_EQ(got, want) << in_channels << " channels, 64-bit sums of " << bits << " bits";
    }
  }
}

// int16 kernels clamped into int8 with residual taps (conv_int8_kernel.hpp, clamped_kernel_fits):
// random convolutions of 1024 entries or more (groups, strides, paddings, either layout), int8 weights
// at their extremes but for one entry in 512 that leaves int8 (up to +-32767, and at the kernel's
// first and last entries: taps that padding cuts), from field elements and from 64-bit sums,
// batches in one-sample blocks and whole, channels in blocks, against the 128-bit route.
TYPED_TEST(ConvInt8, ClampedKernelsWithResidualTaps) {
  using F = TypeParam;
  if (!int8_limb_gemm_available()) GTEST_SKIP() << "oneDNN's int8 kernels are not exact here (no VNNI or AMX)";
  auto rng = testing::make_rng(235);
  const auto pick = [&](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 12; ++trial) {
    ConvShape c;
    c.groups = pick(1, 2);
    c.in_channels = c.groups * pick(4, 8), c.out_channels = c.groups * pick(8, 16);
    c.in_h = pick(4, 9), c.in_w = pick(4, 9), c.kernel_h = pick(2, 3), c.kernel_w = pick(2, 4);
    c.stride_h = pick(1, 2), c.stride_w = pick(1, 2);
    c.pad_top = pick(0, c.kernel_h - 1), c.pad_bottom = pick(0, c.kernel_h - 1);
    c.pad_left = pick(0, c.kernel_w - 1), c.pad_right = pick(0, c.kernel_w - 1);
    c.pow2_in = trial % 2 == 1, c.pow2_out = trial % 3 == 1;
    while (c.kernel_size() < 1024) c.out_channels += c.groups;
    std::vector<std::int64_t> w = kernel_weights(c.kernel_size(), false, rng);
    const std::size_t outside = w.size() / conv_kernel::kResidualShare;
    const std::int64_t wide[] = {128, -129, 32767, -32768, 158, -300};
    w.front() = wide[trial % 6], w.back() = wide[(trial + 1) % 6];
    for (std::size_t i = 2; i < outside; ++i) w[1 + rng() % (w.size() - 2)] = wide[rng() % 6];
    const LinearOp op = LinearOp::convolution(c, WeightMatrix(w));
    ASSERT_TRUE(conv_kernel::clamped_kernel_fits(op)) << "trial " << trial;
    ASSERT_TRUE(int8_conv_exact(op)) << "trial " << trial;
    const conv_kernel::Int8Kernel k = conv_kernel::int8_kernel(op);
    EXPECT_EQ(k.halves, 1u);
    EXPECT_GE(k.residual.size(), 2u);
    for (std::size_t batch : {1, 19}) {
      std::vector<std::uint64_t> sums(op.cols * batch);
      std::uint64_t any = 0;
      for (auto& x : sums) any |= x = (rng() % 5 == 0 ? ~std::uint64_t{0} : rng()) >> 24;  // below 2^40
      std::vector<F> in(sums.size());
      for (std::size_t i = 0; i < in.size(); ++i) in[i] = F::from_u128(sums[i]);
      const std::vector<F> want = apply_op(op, in.data(), batch, batch);
      for (std::size_t cap : {std::size_t{1}, std::size_t{4096}, kConvChunkBytes})
        EXPECT_EQ(apply_conv_int8(op, in.data(), batch, batch, cap), want)
            << "trial " << trial << " batch " << batch << " chunk bytes " << cap;
      std::vector<F> got(op.rows * batch);
      apply_conv_int8_into(op, sums.data(), batch, batch, bit_length(any), OpOutput<F>{got.data(), batch});
      EXPECT_EQ(got, want) << "trial " << trial << " batch " << batch << ", 64-bit sums";
    }
  }
}

TEST(ConvInt8Route, TakesInt8ConvolutionsWithEnoughTaps) {
  ConvShape c;
  c.in_channels = 8, c.in_h = c.in_w = 6, c.out_channels = 3, c.kernel_h = c.kernel_w = 3;  // 72 taps
  const LinearOp conv = LinearOp::convolution(c, WeightMatrix(std::vector<std::int64_t>(c.kernel_size(), 5)));
  EXPECT_EQ(int8_conv_route_fits(conv), int8_limb_gemm_available());
  // int16 weights split into int8 halves; 32767 does not (its hi half would be 128); int32 weights,
  // a 2x2 sum pool (4 taps) and a dense op do not take it.
  std::vector<std::int64_t> wide(c.kernel_size(), -32768);
  EXPECT_EQ(int8_conv_route_fits(LinearOp::convolution(c, WeightMatrix(wide))), int8_limb_gemm_available());
  wide[7] = 32767;
  EXPECT_FALSE(int8_conv_route_fits(LinearOp::convolution(c, WeightMatrix(wide))));
  EXPECT_FALSE(
      int8_conv_route_fits(LinearOp::convolution(c, WeightMatrix(std::vector<std::int64_t>(c.kernel_size(), 70000)))));
  ConvShape pool;
  pool.in_channels = pool.out_channels = pool.groups = 2, pool.in_h = pool.in_w = 4;
  pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
  EXPECT_FALSE(int8_conv_route_fits(LinearOp::convolution(pool, WeightMatrix(std::vector<std::int64_t>(8, 1)))));
  EXPECT_FALSE(int8_conv_route_fits(LinearOp::dense(3, 40, WeightMatrix(std::vector<std::int64_t>(120, 1)))));
  // One weight in 512 past int8 clamps (32767 included: its halves would not split); one more
  // splits into halves; int32 weights never clamp.
  c.out_channels = 8;  // 576 entries
  std::vector<std::int64_t> mostly_int8(c.kernel_size(), -7);
  mostly_int8[100] = 32767;
  EXPECT_TRUE(conv_kernel::clamped_kernel_fits(LinearOp::convolution(c, WeightMatrix(mostly_int8))));
  EXPECT_EQ(int8_conv_route_fits(LinearOp::convolution(c, WeightMatrix(mostly_int8))), int8_limb_gemm_available());
  mostly_int8[100] = 300, mostly_int8[200] = -129;
  EXPECT_FALSE(conv_kernel::clamped_kernel_fits(LinearOp::convolution(c, WeightMatrix(mostly_int8))));
  EXPECT_EQ(conv_kernel::int8_kernel(LinearOp::convolution(c, WeightMatrix(mostly_int8))).halves, 2u);
  mostly_int8[200] = 70000;
  EXPECT_FALSE(conv_kernel::clamped_kernel_fits(LinearOp::convolution(c, WeightMatrix(mostly_int8))));
  c.out_channels = 3;
  c.in_channels = 2;  // 18 taps: exact, but the limb route's
  const LinearOp small = LinearOp::convolution(c, WeightMatrix(std::vector<std::int64_t>(c.kernel_size(), 5)));
  EXPECT_EQ(int8_conv_exact(small), int8_limb_gemm_available());
  EXPECT_FALSE(int8_conv_route_fits(small));
}

// The cpu engine's transposed convolution (conv_transpose.hpp: a gather over the taps reading each
// input, in exact integers) against chain_transpose_apply, for m127 and m61's extension, with
// int8, int16 and int32 kernels at their extremes and random and p - 1 entries.
template <class K>
class ConvTranspose : public ::testing::Test {};
using Extensions = ::testing::Types<Fp127, Fp61x2>;
TYPED_TEST_SUITE(ConvTranspose, Extensions);

TYPED_TEST(ConvTranspose, EqualsChainTransposeApply) {
  using K = TypeParam;
  auto rng = testing::make_rng(231);
  const K top = K::zero() - K::one();
  for (int trial = 0; trial < 30; ++trial) {
    LinearOp op = random_conv(rng, trial % 2 == 1);
    if (trial % 3 == 2) {  // int32 extremes
      op.weights.set(0, -(std::int64_t{1} << 31));
      op.weights.set(op.weights.size() - 1, (std::int64_t{1} << 31) - 1);
    }
    std::vector<K> cur(op.rows);
    for (auto& x : cur) x = trial % 5 == 4 ? top : testing::random_element<K>(rng);
    const std::vector<LinearOp> chain{op};
    EXPECT_EQ(conv_transpose_exact(op, cur), chain_transpose_apply<K>(chain, std::span<const K>(cur)))
        << "trial " << trial;
  }
}

// A dense op's transpose in exact integers (dense_transpose_exact: blocks of 64 columns) against
// chain_transpose_apply: 1-40 rows, 1-200 columns (blocks cut short), int8, int16 and int32
// weights at their extremes with zeros among them, random, zero and p - 1 entries.
TYPED_TEST(ConvTranspose, ADenseOpsTransposeIsExact) {
  using K = TypeParam;
  auto rng = testing::make_rng(234);
  const K top = K::zero() - K::one();
  for (int trial = 0; trial < 30; ++trial) {
    const std::size_t rows = 1 + rng() % 40, cols = 1 + rng() % 200;
    const std::int64_t most = std::int64_t{1} << (trial % 3 == 0 ? 7 : trial % 3 == 1 ? 15 : 31);
    std::vector<std::int64_t> w(rows * cols);
    for (auto& x : w) x = rng() % 4 == 0 ? 0 : static_cast<std::int64_t>(rng() % (2 * most)) - most;
    w.front() = -most, w.back() = most - 1;
    const LinearOp op = LinearOp::dense(rows, cols, WeightMatrix(w));
    std::vector<K> cur(rows);
    for (auto& x : cur) x = rng() % 5 == 0 ? (rng() % 2 ? top : K::zero()) : testing::random_element<K>(rng);
    const std::vector<LinearOp> chain{op};
    EXPECT_EQ(dense_transpose_exact(op, cur), chain_transpose_apply<K>(chain, std::span<const K>(cur)))
        << "trial " << trial << ": " << rows << " x " << cols;
  }
}

// A sum pool's transpose (pool_transpose: additions only) against the gather and
// chain_transpose_apply: kernels 1-3 x 1-3, strides 1-3 (overlapping, abutting and gapped
// windows), paddings, images of any size in either layout, random and p - 1 entries; a third of
// them windows that tile the image (stride = kernel, no padding: its gather by rows).
TYPED_TEST(ConvTranspose, APoolsTransposeIsTheGather) {
  using K = TypeParam;
  auto rng = testing::make_rng(232);
  const K top = K::zero() - K::one();
  const auto pick = [&](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 30; ++trial) {
    ConvShape c;
    c.in_channels = c.out_channels = c.groups = pick(1, 3);
    c.in_h = pick(3, 9), c.in_w = pick(3, 9);
    c.kernel_h = pick(1, 3), c.kernel_w = pick(1, 3);
    c.stride_h = pick(1, 3), c.stride_w = pick(1, 3);
    c.pad_top = pick(0, c.kernel_h - 1), c.pad_left = pick(0, c.kernel_w - 1);
    c.pad_bottom = pick(0, c.kernel_h - 1), c.pad_right = pick(0, c.kernel_w - 1);
    c.pow2_in = c.pow2_out = trial % 2 == 1;
    if (trial % 3 == 0) {  // windows that tile the image: the gather by rows
      c.stride_h = c.kernel_h, c.stride_w = c.kernel_w;
      c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 0;
    }
    const LinearOp op = LinearOp::sum_pool(c);
    ASSERT_TRUE(op.is_ones_pool());
    std::vector<K> cur(op.rows);
    for (auto& x : cur) x = trial % 5 == 4 ? top : testing::random_element<K>(rng);
    const std::vector<LinearOp> chain{op};
    const std::vector<K> want = chain_transpose_apply<K>(chain, std::span<const K>(cur));
    EXPECT_EQ(pool_transpose(op, cur), want) << "trial " << trial;
    EXPECT_EQ(conv_transpose_exact(op, cur), want) << "trial " << trial;
  }
}

// The separable transpose (conv_transpose_separable: eq(q, .)'s channel, row and column factors,
// the kernel summed over output channels first) against the gather on the same eq table: random
// convolutions (groups, strides, paddings, kernel shapes, images of any size in either layout),
// int8, int16 and int32 kernels, challenges with coordinates 0 and 1 (factors with zeros). Where
// the output's rows or columns are no power of two it declines; and a table that is not an eq
// table's product form (one entry changed) is declined, never misread.
TYPED_TEST(ConvTranspose, SeparableEqualsTheGatherOnEqTables) {
  using K = TypeParam;
  auto rng = testing::make_rng(233);
  const auto pow2 = [](std::size_t x) { return (x & (x - 1)) == 0; };
  std::size_t separable = 0;
  for (int trial = 0; trial < 40; ++trial) {
    LinearOp op = random_conv(rng, trial % 2 == 1);
    if (trial % 3 == 2) {  // int32 extremes
      op.weights.set(0, -(std::int64_t{1} << 31));
      op.weights.set(op.weights.size() - 1, (std::int64_t{1} << 31) - 1);
    }
    std::vector<K> q = testing::random_point<K>(rng, padded(op.rows));  // a point for that many entries
    if (trial % 4 == 3) q.front() = K::zero(), q.back() = K::one();
    const std::vector<K> eq = eq_table<K>(q);
    const auto got = conv_transpose_separable(op, std::span<const K>(eq));
    const std::string where = "trial " + std::to_string(trial);
    if (!pow2(op.conv.out_rows()) || !pow2(op.conv.out_cols())) {
      EXPECT_FALSE(got) << where;
      continue;
    }
    ASSERT_TRUE(got) << where;
    EXPECT_EQ(*got,
              conv_transpose_exact(op, std::vector<K>(eq.begin(), eq.begin() + static_cast<std::ptrdiff_t>(op.rows))))
        << where;
    // The factors from the point itself (the prover's row_combine_at) are the table's, entry for
    // entry, and so is the transpose built on them.
    const auto from_q = eq_factors_at(std::span<const K>(q), op.conv.out_rows(), op.conv.out_cols());
    const auto from_table = eq_factors(std::span<const K>(eq), op.conv.out_rows(), op.conv.out_cols());
    ASSERT_TRUE(from_q && from_table) << where;
    EXPECT_TRUE(from_q->c == from_table->c && from_q->h == from_table->h && from_q->w == from_table->w) << where;
    const auto got_at = conv_transpose_separable(op, *from_q);
    ASSERT_TRUE(got_at) << where;
    EXPECT_EQ(*got_at, *got) << where;
    std::vector<K> changed = eq;
    changed[rng() % changed.size()] += K::one();
    EXPECT_FALSE(conv_transpose_separable(op, std::span<const K>(changed))) << where;
    ++separable;
  }
  EXPECT_GT(separable, 15u);
  // A point too short for the op's rows and columns gives no factors.
  const std::vector<K> q3 = testing::random_point<K>(rng, 8);
  EXPECT_FALSE(eq_factors_at(std::span<const K>(q3), 4, 4));
  EXPECT_TRUE(eq_factors_at(std::span<const K>(q3), 4, 2));
}

}  // namespace
}  // namespace nnproof

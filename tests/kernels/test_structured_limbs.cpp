// SPDX-License-Identifier: Apache-2.0
// The cpu engine's limb route for structured layers (structured_limbs.hpp) against the 128-bit
// route that the reference engine keeps (structured_forward.hpp's apply_op): convolutions with
// int16 kernels at their extremes, dense ops, rows of more taps than a tile, batches around the
// 32-sample blocks, inputs random and at p - 1, both fields, slabs of rows of every size, and both
// kernels (AVX-512 where the engine uses it, and the portable loops). Also which ops the route takes,
// and the cache of its tap tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "kernels/cpu/structured_limbs.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

LinearOp conv_op(std::size_t in_c, std::size_t hw, std::size_t out_c, std::size_t k, std::vector<std::int64_t> kernel) {
  ConvShape c;
  c.in_channels = in_c, c.in_h = c.in_w = hw, c.out_channels = out_c, c.kernel_h = c.kernel_w = k;
  c.pad_top = c.pad_left = 1;  // some taps fall off the edge
  return LinearOp::convolution(c, WeightMatrix(std::move(kernel)));
}

std::vector<std::int64_t> int16_weights(std::size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::int64_t> d(-32768, 32767);
  std::vector<std::int64_t> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = i % 7 == 0 ? -32768 : i % 7 == 1 ? 32767 : d(rng);
  return w;
}

template <class F>
class StructuredLimbs : public ::testing::Test {};
using Fields = ::testing::Types<Fp61, Fp127>;
TYPED_TEST_SUITE(StructuredLimbs, Fields);

TYPED_TEST(StructuredLimbs, EqualThe128BitRoute) {
  using F = TypeParam;
  auto rng = testing::make_rng(90);
  std::vector<LinearOp> ops;
  ops.push_back(conv_op(3, 7, 4, 5, int16_weights(4 * 3 * 25, rng)));
  ops.push_back(LinearOp::dense(5, 40, WeightMatrix(int16_weights(5 * 40, rng))));
  // Rows past kTapTile taps, summed a tile at a time: a dense op (two whole tiles and a part), and
  // a convolution of 576 taps whose edge rows have fewer (384, 256).
  ops.push_back(LinearOp::dense(5, 2 * kTapTile + 276, WeightMatrix(int16_weights(5 * (2 * kTapTile + 276), rng))));
  ops.push_back(conv_op(64, 4, 3, 3, int16_weights(3 * 64 * 9, rng)));
  const F top = F::zero() - F::one();
  for (const LinearOp& op : ops) {
    ASSERT_TRUE(limb_route_fits(op));
    for (std::size_t batch : {1, 31, 32, 33, 300}) {
      for (bool extreme : {false, true}) {
        const std::size_t stride = batch + 3;  // the input's rows are longer than the batch
        std::vector<F> in(op.cols * stride);
        for (auto& x : in) x = extreme ? top : testing::random_element<F>(rng);
        const std::vector<F> want = apply_op(op, in.data(), stride, batch);
        EXPECT_EQ(apply_op_limbs(op, in.data(), stride, batch), want)
            << "rows " << op.rows << " batch " << batch << " extreme " << extreme;
        // Slabs of one row (a cap below a row's taps) and of a few rows.
        for (std::size_t cap : {1, 200})
          EXPECT_EQ(apply_op_limbs(op, in.data(), stride, batch, cap), want)
              << "slab cap " << cap << " batch " << batch;
      }
    }
  }
}

// cached_tap_table serves one table to every op of the same shape and weights (a copy of the op,
// as each proof's padded model makes, included) and a new one wherever either differs: a weight
// changed in place, another weight in a copy, another padding; the limb route then applies the
// changed op, not the table of the old one.
TYPED_TEST(StructuredLimbs, TheTapTableCacheFollowsTheWeights) {
  using F = TypeParam;
  auto rng = testing::make_rng(91);
  LinearOp op = conv_op(3, 6, 4, 3, int16_weights(4 * 3 * 9, rng));
  const std::shared_ptr<const TapTable> first = cached_tap_table(op, 0, kMaxSlabTaps);
  const LinearOp copy = op;  // new stamp, same entries
  EXPECT_EQ(cached_tap_table(copy, 0, kMaxSlabTaps), first);
  EXPECT_NE(cached_tap_table(op, 1, kMaxSlabTaps), first);  // a slab from another row

  LinearOp other_weight = op;
  other_weight.weights.set(5, op.weights[5] == 7 ? 8 : 7);
  LinearOp other_pad = op;  // the same rows and columns: only the shape tells them apart
  std::swap(other_pad.conv.pad_left, other_pad.conv.pad_right);
  ASSERT_EQ(other_pad.conv.out_size(), op.rows);
  const std::size_t batch = 33;
  std::vector<F> in(op.cols * batch);
  for (auto& x : in) x = testing::random_element<F>(rng);
  for (const LinearOp* changed : {&other_weight, &other_pad}) {
    EXPECT_NE(cached_tap_table(*changed, 0, kMaxSlabTaps), first);
    EXPECT_EQ(apply_op_limbs(*changed, in.data(), batch, batch), apply_op(*changed, in.data(), batch, batch));
  }
  op.weights.set(0, op.weights[0] == 3 ? 4 : 3);  // in place: the stamp is renewed
  EXPECT_NE(cached_tap_table(op, 0, kMaxSlabTaps), first);
  EXPECT_EQ(apply_op_limbs(op, in.data(), batch, batch), apply_op(op, in.data(), batch, batch));

  // A table in use stays valid when the cache drops it: a few dozen other ops later, `first` is
  // rebuilt for a copy of its op, and both copies hold the same taps.
  const std::shared_ptr<const TapTable> again = cached_tap_table(copy, 0, kMaxSlabTaps);
  for (int i = 0; i < 40; ++i) cached_tap_table(conv_op(3, 6, 4, 3, int16_weights(4 * 3 * 9, rng)), 0, kMaxSlabTaps);
  const std::shared_ptr<const TapTable> rebuilt = cached_tap_table(copy, 0, kMaxSlabTaps);
  EXPECT_NE(rebuilt, again);
  ASSERT_EQ(rebuilt->count, again->count);
  for (std::size_t r = 0; r < again->count.size(); ++r) {  // each row's taps (the rest of a row is unused)
    const std::size_t t = again->offset(r), n = again->taps(r);
    EXPECT_TRUE(std::equal(again->in.begin() + t, again->in.begin() + t + n, rebuilt->in.begin() + t)) << r;
    EXPECT_TRUE(std::equal(again->w.begin() + t, again->w.begin() + t + n, rebuilt->w.begin() + t)) << r;
  }
}

// The int16 planes (the first convolution's, from inputs below 2^15) hold each centered value at
// its block position and zero past the batch: values at +-(2^15 - 1) and -2^15, batches around the
// 32-sample blocks, rows longer than the batch.
TYPED_TEST(StructuredLimbs, Int16PlanesHoldTheCenteredValues) {
  using F = TypeParam;
  auto rng = testing::make_rng(93);
  const LinearOp op = conv_op(2, 5, 3, 3, int16_weights(3 * 2 * 9, rng));
  std::uniform_int_distribution<std::int64_t> d(-32768, 32767);
  for (std::size_t batch : {1, 31, 32, 33, 70}) {
    const std::size_t stride = batch + 5;
    std::vector<F> in(op.cols * stride, F::one());  // past the batch: ones, which must not be read
    for (std::size_t j = 0; j < op.cols; ++j)
      for (std::size_t k = 0; k < batch; ++k)
        in[j * stride + k] = F::from_int((j + k) % 5 == 0 ? -32768 : (j + k) % 5 == 1 ? 32767 : d(rng));
    LimbPlanes<std::int16_t> planes = cut_planes<F, std::int16_t>(op, in.data(), stride, batch, 1);
    for (std::size_t j = 0; j < op.cols; ++j)
      for (std::size_t k = 0; k < planes.blocks * kLimbBlock; ++k) {
        const std::int64_t want = k < batch ? static_cast<std::int64_t>(in[j * stride + k].centered()) : 0;
        ASSERT_EQ(*planes.at(j, k), want) << "input " << j << " sample " << k << " batch " << batch;
      }
  }
}

// The portable loops and the dispatched kernel give the same sums on one block.
TEST(StructuredLimbsKernel, PortableLoopsMatchTheDispatchedKernel) {
  auto rng = testing::make_rng(91);
  constexpr std::size_t cols = 50, taps = 37;
  for (unsigned limbs : {2u, 5u}) {
    std::vector<std::int32_t> block(limbs * cols * kLimbBlock);
    for (auto& x : block) x = static_cast<std::int32_t>(rng() & 0x7FFFFFFF);
    std::vector<std::uint32_t> in(taps);
    std::vector<std::int32_t> w(taps);
    for (std::size_t t = 0; t < taps; ++t) {
      in[t] = static_cast<std::uint32_t>(rng() % cols);
      w[t] = t % 2 ? -32768 : static_cast<std::int32_t>(rng() % 65536) - 32768;
    }
    std::vector<std::int64_t> fast(limbs * kLimbBlock), plain(limbs * kLimbBlock), want(limbs * kLimbBlock, 0);
    for (std::size_t t = 0; t < taps; ++t)
      for (unsigned l = 0; l < limbs; ++l)
        for (std::size_t k = 0; k < kLimbBlock; ++k)
          want[l * kLimbBlock + k] += std::int64_t{w[t]} * block[(l * cols + in[t]) * kLimbBlock + k];
    sum_taps_limbs(block.data(), cols, in.data(), w.data(), taps, limbs, fast.data());
    sum_taps_limbs_portable(block.data(), cols, in.data(), w.data(), taps, limbs, plain.data());
    EXPECT_EQ(fast, want) << limbs << " limbs";
    EXPECT_EQ(plain, want) << limbs << " limbs";
  }
}

TEST(StructuredLimbsKernel, RouteTakesNarrowWeightsWithEnoughTaps) {
  auto rng = testing::make_rng(92);
  EXPECT_TRUE(limb_route_fits(conv_op(2, 6, 3, 3, int16_weights(3 * 2 * 9, rng))));
  std::vector<std::int64_t> wide = int16_weights(3 * 2 * 9, rng);
  wide[0] = 1 << 20;  // stored as int32: products could pass 2^63
  EXPECT_FALSE(limb_route_fits(conv_op(2, 6, 3, 3, wide)));
  ConvShape pool;  // 2 x 2 sum pooling: four taps per output, not worth a split
  pool.in_channels = pool.out_channels = pool.groups = 2, pool.in_h = pool.in_w = 4;
  pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
  EXPECT_FALSE(limb_route_fits(LinearOp::convolution(pool, WeightMatrix(std::vector<std::int64_t>(8, 1)))));
}

// max_abs_centered (the bias scans' bound, in chunks of 4096 split between threads) against a
// serial scan: empty, one value, chunk edges, the largest |centered| planted in the last chunk,
// at a chunk's first or last entry, positive or negative (p - x), both fields.
template <class F>
void expect_max_abs_centered(std::mt19937_64& rng) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                        std::size_t{3 * 4096 + 5}}) {
    std::vector<F> v(n);
    for (auto& x : v) x = F::from_int(static_cast<std::int64_t>(rng() % 2001) - 1000);
    if (n > 1) v[n - 1 - rng() % std::min<std::size_t>(n, 4096)] = rng() % 2 ? F::from_int(5000) : F::from_int(-7000);
    if (n > 4096) v[4096] = F::from_int(-9000);
    u128 want = 0;
    for (const F& x : v) {
      const i128 c = x.centered();
      want = std::max(want, static_cast<u128>(c < 0 ? -c : c));
    }
    EXPECT_EQ(max_abs_centered(v.data(), n), want) << n << " values";
  }
}

TEST(StructuredLimbsKernel, MaxAbsCenteredIsTheSerialScan) {
  std::mt19937_64 rng(244);
  expect_max_abs_centered<Fp61>(rng);
  expect_max_abs_centered<Fp127>(rng);
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// The cpu engine's narrow hidden Z (kernels/cpu/narrow_table.hpp): forward_hidden keeps a
// structured layer's Z as int32 or int64 where its bound fits, and nowhere else; widened, it is the
// reference engine's Z bit for bit, also from a narrow Z; a pool of many taps reads a wide table
// widened. Its readers: test_narrow_readers.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/structured_cpu.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "tests/kernels/narrow_support.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

using testing::conv_k;
using testing::input_of;
using testing::layer_of;
using testing::pick;
using testing::pool_after;
using testing::random_conv;
using testing::random_kernel;
using testing::widened;

template <class Cfg>
class NarrowTableTest : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(NarrowTableTest, Configs);

// Narrow exactly where the layer takes the limb route (one channel of 2 x 3 taps does not) and
// the bound (max |kernel| row sum x the input's width + the largest bias) is below 2^60: int32
// below 2^31, else int64; the widened table is the reference engine's forward.
TYPED_TEST(NarrowTableTest, ForwardHiddenIsNarrowWhereItFitsAndEqualsTheReference) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(301);
  const auto ref = make_reference_engine<TypeParam>(), cpu = make_cpu_engine<TypeParam>();
  std::size_t narrow_seen = 0, wide_seen = 0, field_seen = 0;
  for (int trial = 0; trial < 12; ++trial) {
    QuantizedLayer q;
    const std::size_t in_c = trial % 4 == 3 ? 1 : pick(rng, 2, 3), h = pick(rng, 5, 9), w = pick(rng, 5, 9);
    const std::int64_t wmax = trial % 3 == 0 ? 32000 : 127;  // int16 kernels pass 2^31 from wide inputs
    q.ops.push_back(random_conv(rng, in_c, pick(rng, 1, 4), h, w, wmax));
    const FieldLayer<F> layer = layer_of<F>(q, rng, 12);
    QuantizedLayer pq;  // the next layer: a pool of Z's squares (the one reader a narrow Z is kept for)
    pq.ops = {pool_after(q.ops[0], 2, 2, 2)};
    const FieldLayer<F> pool = layer_of<F>(pq, rng, 0);
    const bool takes_limb_route = limb_route_fits(q.ops[0]) && !int8_conv_route_fits(q.ops[0]);
    u128 most_bias = 0;
    for (const F& b : layer.bias)
      most_bias = std::max(most_bias, static_cast<u128>(b.centered() < 0 ? -b.centered() : b.centered()));
    for (std::size_t batch : {1, 5, 33})
      for (unsigned bits : {1u, 8u, 14u, 15u, 16u, 20u, 24u, 30u}) {  // to 15: int16 by VNNI pairs
        const Table2D<F> Y = input_of<F>(rng, q.cols, batch, bits);
        const Table2D<F> want = ref->forward(layer, Y, batch);
        Table2D<F> got = cpu->forward_hidden(layer, pool, Y, batch, InputIs::values);
        const NarrowTable* narrow = narrow_table(got);
        const u128 bound = static_cast<u128>(max_abs_row_sum(q.ops[0])) * ((u128{1} << bits) - 1) + most_bias;
        const std::string where =
            "trial " + std::to_string(trial) + " batch " + std::to_string(batch) + " bits " + std::to_string(bits);
        if (bound < (u128{1} << kNarrowWideBits) && takes_limb_route) {
          ASSERT_NE(narrow, nullptr) << where;
          EXPECT_TRUE(got.data.empty()) << where;
          EXPECT_EQ(narrow->wide(), bound >= (u128{1} << 31)) << where;
          narrow->visit([&](const auto* v) {
            for (std::size_t i = 0; i < got.rows * got.cols; ++i)
              ASSERT_LT(static_cast<u128>(v[i] < 0 ? -static_cast<i128>(v[i]) : v[i]), u128{1} << narrow->bits)
                  << where;
          });
          ++(narrow->wide() ? wide_seen : narrow_seen);
        } else {
          EXPECT_EQ(narrow, nullptr) << where;
          ++field_seen;
        }
        cpu->to_host(got);
        ASSERT_EQ(got.rows, want.rows) << where;
        ASSERT_EQ(got.cols, want.cols) << where;
        EXPECT_EQ(got.data, want.data) << where;
      }
  }
  EXPECT_GT(narrow_seen, 40u);
  EXPECT_GT(wide_seen, 5u);   // int16 kernels on wide inputs: past 2^31, int64
  EXPECT_GT(field_seen, 5u);  // one channel of few taps: not the limb route
}

// Inputs wider than one limb (random field elements), and a Z whose next layer does not pool its
// squares (it would read a widened copy), are field tables.
TYPED_TEST(NarrowTableTest, WideInputsAndOtherNextLayersStayInTheField) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(302);
  const auto cpu = make_cpu_engine<TypeParam>();
  QuantizedLayer q;
  q.ops.push_back(conv_k(rng, 2, 3, 6, 6, 3, false));  // 18 taps: the limb route
  const FieldLayer<F> layer = layer_of<F>(q, rng, 4);
  Table2D<F> Y(padded(q.cols), padded(std::size_t{7}));
  for (std::size_t j = 0; j < q.cols; ++j)
    for (std::size_t k = 0; k < 7; ++k) Y.at(j, k) = testing::random_element<F>(rng);
  QuantizedLayer pq, dq;
  pq.ops = {pool_after(q.ops[0], 2, 2, 2)};
  dq.ops = {LinearOp::dense(3, q.rows, random_kernel(rng, 3 * q.rows, 127))};
  const FieldLayer<F> pool = layer_of<F>(pq, rng, 0), dense = layer_of<F>(dq, rng, 4);
  const Table2D<F> Z = cpu->forward_hidden(layer, pool, Y, 7, InputIs::values);
  EXPECT_EQ(narrow_table(Z), nullptr);
  EXPECT_EQ(Z.data, cpu->forward(layer, Y, 7).data);
  const Table2D<F> small = input_of<F>(rng, q.cols, 7, 4);  // narrow with a pool next (the test above)
  ASSERT_NE(narrow_table(cpu->forward_hidden(layer, pool, small, 7, InputIs::values)), nullptr);
  const Table2D<F> Zd = cpu->forward_hidden(layer, dense, small, 7, InputIs::values);
  EXPECT_EQ(narrow_table(Zd), nullptr);
  EXPECT_EQ(Zd.data, cpu->forward(layer, small, 7).data);
}

// forward_hidden of a second layer from a narrow first Z (InputIs::squared): a pool then a conv of
// the limb route (1 x 1, 8 taps: int32 from small weights, int32 or int64 from int8 ones) or of the
// int8 route where it runs (3 x 3, 72 taps: int64) is narrow, every entry below 2^bits; a conv
// that does not pool first, or a layer whose next one does not pool (a pool then a conv, or a pool
// then a dense op), gives a field table; widened,
// every result is the reference engine's forward of the first Z's square. In trial 3 every weight
// and input is at its top, so the outputs reach at least half their bound: a bound a few bits too
// small (the int8 convolution's, from 4 bits less of its input, fails here) leaves entries past
// 2^bits.
TYPED_TEST(NarrowTableTest, ForwardHiddenFromANarrowZ) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(311);
  const auto ref = make_reference_engine<TypeParam>(), cpu = make_cpu_engine<TypeParam>();
  std::size_t int32_seen = 0, int64_seen = 0;
  for (int trial = 0; trial < 4; ++trial) {
    QuantizedLayer q1;  // |Z_1| < 27 x 3 x 15 + 8: pooled squares below 2^23, one limb
    q1.ops = {conv_k(rng, 3, 8, 8, 8, 3, false)};
    const bool top = trial == 3;
    const auto weights = [&](std::size_t n, std::int64_t wmax) {
      return top ? WeightMatrix(std::vector<std::int64_t>(n, wmax)) : random_kernel(rng, n, wmax);
    };
    q1.ops[0] = LinearOp::convolution(q1.ops[0].conv, weights(q1.ops[0].weights.size(), 3));
    const FieldLayer<F> first = layer_of<F>(q1, rng, 3);
    QuantizedLayer pq1;
    pq1.ops = {pool_after(q1.ops[0], 2, 2, 2)};
    const FieldLayer<F> pool1 = layer_of<F>(pq1, rng, 0);
    const std::size_t batch = pick(rng, 3, 24);
    Table2D<F> Y = input_of<F>(rng, q1.cols, batch, 4);
    for (std::size_t j = 0; top && j < q1.cols; ++j)
      for (std::size_t k = 0; k < batch; ++k) Y.at(j, k) = F::from_int(15);
    const Table2D<F> Z1 = cpu->forward_hidden(first, pool1, Y, batch, InputIs::values);
    ASSERT_NE(narrow_table(Z1), nullptr) << "trial " << trial;
    const Table2D<F> square = ref->square(widened(Z1));

    std::vector<QuantizedLayer> seconds(5);
    seconds[0].ops = {pool_after(q1.ops[0], 2, 2, 2), conv_k(rng, 8, 4, 4, 4, 1, false, 0)};
    seconds[0].ops[1] = LinearOp::convolution(seconds[0].ops[1].conv, weights(32, trial % 2 ? 127 : 3));
    seconds[1].ops = {pool_after(q1.ops[0], 2, 2, 2), conv_k(rng, 8, 4, 4, 4, 3, false)};  // 72 taps
    seconds[1].ops[1] = LinearOp::convolution(seconds[1].ops[1].conv, weights(288, 127));
    seconds[2].ops = {conv_k(rng, 8, 4, 8, 8, 3, false)};  // squares first, then a conv: no pool
    seconds[3].ops = seconds[0].ops;                       // its next layer does not pool
    // A pool then a dense op, the next layer dense: the pool's sums (below 2^24) cut into one limb
    // of the dense op's planes (pool_squares_into_limb_op, both fields).
    seconds[4].ops = {pool_after(q1.ops[0], 2, 2, 2)};
    seconds[4].ops.push_back(LinearOp::dense(5, seconds[4].ops[0].rows, weights(5 * seconds[4].ops[0].rows, 127)));
    for (std::size_t i = 0; i < seconds.size(); ++i) {
      const std::string where = "trial " + std::to_string(trial) + " second " + std::to_string(i);
      const FieldLayer<F> second = layer_of<F>(seconds[i], rng, 6);
      const LinearOp& last = seconds[i].ops.back();
      QuantizedLayer nq;  // the layer after: a pool of the second Z's squares, or a dense op
      nq.ops = {i >= 3 ? LinearOp::dense(2, last.rows, random_kernel(rng, 2 * last.rows, 127))
                       : pool_after(last, 2, 2, 2)};
      const FieldLayer<F> next = layer_of<F>(nq, rng, 0);
      Table2D<F> got = cpu->forward_hidden(second, next, Z1, batch, InputIs::squared);
      const NarrowTable* narrow = narrow_table(got);
      if (i < 2) {
        ASSERT_NE(narrow, nullptr) << where;
        u128 magnitudes = 0;  // of the entries and the biases
        narrow->visit([&](const auto* v) {
          for (std::size_t e = 0; e < got.rows * got.cols; ++e) {
            const u128 m = static_cast<u128>(v[e] < 0 ? -static_cast<i128>(v[e]) : v[e]);
            ASSERT_LT(m, u128{1} << narrow->bits) << where;
            magnitudes |= m;
          }
        });
        const bool int8_route = i == 1 && int8_conv_route_fits(last);
        EXPECT_EQ(narrow->wide(), narrow->bits > 31 || int8_route) << where;
        // The int8 route's table has its measured width (int8_conv_narrow), one bit over at most.
        for (const F& b : second.bias) magnitudes |= static_cast<u128>(b.centered() < 0 ? -b.centered() : b.centered());
        if (int8_route) {
          EXPECT_LE(narrow->bits, bit_length(magnitudes) + 1) << where;
        }
        ++(narrow->wide() ? int64_seen : int32_seen);
      } else {
        EXPECT_EQ(narrow, nullptr) << where;
      }
      cpu->to_host(got);
      EXPECT_EQ(got.data, ref->forward(second, square, batch).data) << where;
    }
  }
  EXPECT_GT(int32_seen, 0u);
  EXPECT_GT(int64_seen, 0u);
}

// A pool of more than 256 taps (a 17 x 17 global pool: 289) reads at most 59 bits of a narrow Z
// (narrow_bits_read_by), and where a table is wider (60 bits) reads its widened copy: the same Z.
TYPED_TEST(NarrowTableTest, APoolOfManyTapsReadsAWideTableWidened) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(312);
  const auto cpu = make_cpu_engine<TypeParam>();
  ConvShape c;
  c.in_channels = c.out_channels = 1, c.in_h = c.in_w = 17, c.kernel_h = c.kernel_w = 1;
  const LinearOp shape_op = LinearOp::convolution(c, WeightMatrix(std::vector<std::int64_t>{1}));
  QuantizedLayer pq;
  pq.ops = {pool_after(shape_op, 17, 17, 1)};
  const FieldLayer<F> pool = layer_of<F>(pq, rng, 4);
  EXPECT_EQ(narrow_bits_read_by(pool), 59u);
  const std::size_t batch = 9, rows = padded(shape_op.rows), cols = padded(batch);
  auto narrow = std::make_shared<NarrowTable>();
  narrow->bits = kNarrowWideBits;
  narrow->v64.resize(rows * cols);
  const std::int64_t top = (std::int64_t{1} << kNarrowWideBits) - 1;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < cols; ++k) narrow->v64[r * cols + k] = r < shape_op.rows && k < batch ? top : 0;
  const Table2D<F> Z = narrow_table2d<F>(rows, cols, std::move(narrow));
  EXPECT_EQ(cpu->forward_of_square(pool, Z, batch).data, cpu->forward_of_square(pool, widened(Z), batch).data);
}

}  // namespace
}  // namespace nnproof

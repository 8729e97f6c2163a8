// SPDX-License-Identifier: Apache-2.0
// The cpu engine's narrow hidden Z (kernels/cpu/narrow_table.hpp): forward_hidden keeps a
// structured layer's Z as int32 or int64 where its bound fits, and nowhere else; widened, it is the
// reference engine's Z bit for bit; and every reader of a narrow Z (the next layer's forward of
// its square, pools of 4 and of h w taps, chains that square first, dense layers; square; the
// pool of 64-bit sums that the int8 convolution reads; the group sums of col_combine_of_squares;
// the square sum-check with and without its carry) gives what it gives on the widened table.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "host/prover.hpp"
#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/m127_kernels.hpp"
#include "kernels/cpu/narrow_table.hpp"
#include "kernels/cpu/square_group_sums.hpp"
#include "kernels/cpu/structured_cpu.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "tests/kernels/narrow_support.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/proof.hpp"

namespace nnproof {
namespace {

using testing::extreme_corner;
using testing::widened;

std::size_t pick(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

// A signed value with |x| < 2^bits, at the top of the width every few draws.
template <class F>
F signed_below(std::mt19937_64& rng, unsigned bits) {
  const std::int64_t top = (std::int64_t{1} << bits) - 1;
  const std::int64_t v = rng() % 6 == 0 ? top : std::uniform_int_distribution<std::int64_t>(0, top)(rng);
  return F::from_int(rng() % 2 ? -v : v);
}

// Weights in [-wmax, wmax], the extremes included.
WeightMatrix kernel(std::mt19937_64& rng, std::size_t n, std::int64_t wmax) {
  std::vector<std::int64_t> k(n);
  for (std::size_t i = 0; i < n; ++i)
    k[i] = i % 7 == 0 ? -wmax : i % 7 == 1 ? wmax : std::uniform_int_distribution<std::int64_t>(-wmax, wmax)(rng);
  return WeightMatrix(std::move(k));
}

// A k x k convolution, stride 1, padding `pad` on every side, of (in_c, h, w) images in the given
// layout.
LinearOp conv_k(std::mt19937_64& rng, std::size_t in_c, std::size_t out_c, std::size_t h, std::size_t w, std::size_t k,
                bool pow2, std::size_t pad = 1) {
  ConvShape c;
  c.in_channels = in_c, c.out_channels = out_c, c.in_h = h, c.in_w = w;
  c.kernel_h = c.kernel_w = k;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = pad;
  c.pow2_in = c.pow2_out = pow2;
  return LinearOp::convolution(c, kernel(rng, c.kernel_size(), 127));
}

// A convolution of (in_c, h, w) images, weights in [-wmax, wmax]: kernels 2-3 x 2-3, strides 1-2,
// paddings below the kernel, either layout.
LinearOp conv(std::mt19937_64& rng, std::size_t in_c, std::size_t out_c, std::size_t h, std::size_t w,
              std::int64_t wmax) {
  ConvShape c;
  c.in_channels = in_c, c.out_channels = out_c, c.in_h = h, c.in_w = w;
  c.kernel_h = pick(rng, 2, 3), c.kernel_w = 3;  // at least 6 taps: with 2+ channels the limb route's 8 on average
  c.stride_h = pick(rng, 1, 2), c.stride_w = pick(rng, 1, 2);
  c.pad_top = c.pad_left = pick(rng, 0, 1), c.pad_bottom = c.pad_right = pick(rng, 0, 1);
  c.pow2_in = c.pow2_out = rng() % 2 == 0;
  return LinearOp::convolution(c, kernel(rng, c.kernel_size(), wmax));
}

// A kh x kw sum pool, stride `stride`, of the op's output images (its layout).
LinearOp pool_after(const LinearOp& op, std::size_t kh, std::size_t kw, std::size_t stride) {
  ConvShape c;
  c.groups = c.in_channels = c.out_channels = op.conv.out_channels;
  c.in_h = op.conv.out_h(), c.in_w = op.conv.out_w();
  c.kernel_h = kh, c.kernel_w = kw, c.stride_h = c.stride_w = stride;
  c.pow2_in = c.pow2_out = op.conv.pow2_out;
  return LinearOp::sum_pool(c);
}

template <class F>
FieldLayer<F> layer_of(QuantizedLayer& q, std::mt19937_64& rng, unsigned bias_bits) {
  q.rows = q.ops.back().rows, q.cols = q.ops.front().cols;
  FieldLayer<F> layer{&q, {}};
  for (std::size_t a = 0; a < q.rows; ++a) layer.bias.push_back(signed_below<F>(rng, bias_bits));
  return layer;
}

template <class F>
Table2D<F> input_of(std::mt19937_64& rng, std::size_t cols, std::size_t batch, unsigned bits) {
  Table2D<F> Y(padded(cols), padded(batch));
  for (std::size_t j = 0; j < cols; ++j)
    for (std::size_t k = 0; k < batch; ++k) Y.at(j, k) = signed_below<F>(rng, bits);
  return Y;
}

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
    q.ops.push_back(conv(rng, in_c, pick(rng, 1, 4), h, w, wmax));
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
  dq.ops = {LinearOp::dense(3, q.rows, kernel(rng, 3 * q.rows, 127))};
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

// The proof's readers of a narrow Z against the same readers of its widened copy Zw: V and the
// carry, then the square sum-check's rounds, with the carry and without it.
template <class Cfg>
void expect_proof_readers_agree(Engine<Cfg>& cpu, const Table2D<typename Cfg::F>& Z, const Table2D<typename Cfg::F>& Zw,
                                std::mt19937_64& rng, const std::string& where) {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  const std::vector<K> s = testing::random_point<K>(rng, Z.rows), r = testing::random_point<K>(rng, Z.cols);
  Table2D<F> Yshape;
  Yshape.rows = Z.rows, Yshape.cols = Z.cols;
  SquareCarry<K> carry, carry_w;
  const std::vector<K> V = cpu.col_combine_of_squares(Z, Yshape, eq_table<K>(r), carry);
  EXPECT_EQ(V, cpu.col_combine_of_squares(Zw, Yshape, eq_table<K>(r), carry_w)) << where;
  EXPECT_EQ(carry.sums, carry_w.sums) << where;
  K claim = K::zero();
  const std::vector<K> es = eq_table<K>(s);
  for (std::size_t j = 0; j < Z.rows; ++j) claim += es[j] * V[j];
  for (bool carried : {true, false}) {
    auto narrow_sc = cpu.square_sumcheck(Z, s, r, claim, carried ? carry : SquareCarry<K>{});
    auto wide_sc = cpu.square_sumcheck(Zw, s, r, claim, carried ? carry_w : SquareCarry<K>{});
    const unsigned n = ceil_log2(Z.rows) + ceil_log2(Z.cols);
    for (unsigned t = 0; t < n; ++t) {
      const K x = testing::random_element<K>(rng);
      const auto a = t == 0 ? narrow_sc->round() : narrow_sc->fold_and_round(x);
      const auto b = t == 0 ? wide_sc->round() : wide_sc->fold_and_round(x);
      ASSERT_EQ(a, b) << where << (carried ? " carried" : "") << " round " << t;
    }
    const K last = testing::random_element<K>(rng);
    narrow_sc->fold(last), wide_sc->fold(last);
    EXPECT_EQ(narrow_sc->final_value(), wide_sc->final_value()) << where;
  }
}

// Every reader of a narrow Z against the same reader of its widened copy.
TYPED_TEST(NarrowTableTest, EveryReaderGivesWhatItGivesOnTheWidenedTable) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(303);
  const auto cpu = make_cpu_engine<TypeParam>();
  for (int trial = 0; trial < 12; ++trial) {
    // Z of 2-3 channels of up to 9 x 9; for trials 4-7 from a 3 x 3 conv whose interior values pass
    // 2^30: a global pool of their squares (81 taps) sums past 2^64, in 128 bits. Trials 8-11 are
    // int64 tables: int16 kernels on 30-bit inputs, at the top (|Z| near 2^50) in 10-11.
    QuantizedLayer q1;
    const bool wide = trial >= 8, at_top = (trial >= 4 && trial < 8) || trial >= 10;
    const std::int64_t wmax = wide ? 32767 : 127;
    const std::size_t h = at_top ? 9 : pick(rng, 6, 9), w = at_top ? 9 : pick(rng, 6, 9);
    const std::size_t in_c = pick(rng, 2, 3), out_c = pick(rng, 2, 3);
    q1.ops.push_back(at_top ? conv_k(rng, in_c, out_c, h, w, 3, rng() % 2 == 0) : conv(rng, in_c, out_c, h, w, wmax));
    if (at_top)  // every weight wmax, every input its width's top
      q1.ops[0] = LinearOp::convolution(q1.ops[0].conv,
                                        WeightMatrix(std::vector<std::int64_t>(q1.ops[0].weights.size(), wmax)));
    const FieldLayer<F> first = layer_of<F>(q1, rng, 10);
    const unsigned bits = wide ? 30 : at_top ? 31 - ceil_log2(max_abs_row_sum(q1.ops[0]) + 1) : 12;
    const std::size_t batch = trial % 4 == 3 ? 300 : pick(rng, 3, 40);  // 512 columns: two chunks widened
    Table2D<F> Y = input_of<F>(rng, q1.cols, batch, bits);
    for (std::size_t j = 0; at_top && j < q1.cols; ++j)
      for (std::size_t k = 0; k < batch; ++k) Y.at(j, k) = F::from_int((std::int64_t{1} << bits) - 1);
    QuantizedLayer pq;
    pq.ops = {pool_after(q1.ops[0], 2, 2, 2)};
    const FieldLayer<F> pool = layer_of<F>(pq, rng, 0);
    const Table2D<F> Z = cpu->forward_hidden(first, pool, Y, batch, InputIs::values);
    const std::string where = "trial " + std::to_string(trial);
    ASSERT_NE(narrow_table(Z), nullptr) << where;
    ASSERT_EQ(narrow_table(Z)->wide(), wide) << where;
    const Table2D<F> Zw = widened(Z);

    // The next layer: pool then conv, a pool of 4 taps alone, a global pool, a conv alone (squares
    // first), a dense layer, pool then a conv of the int8 route, pool then a dense op (the pool's
    // sums cut into the dense op's limb planes, m127).
    const LinearOp& c1 = q1.ops[0];
    const std::size_t oc = c1.conv.out_channels, oh = c1.conv.out_h(), ow = c1.conv.out_w();
    const bool pow2 = c1.conv.pow2_out;
    std::vector<QuantizedLayer> nexts(7);
    nexts[0].ops = {pool_after(c1, 2, 2, 2)};
    nexts[0].ops.push_back(conv_k(rng, oc, 2, oh / 2, ow / 2, 2, pow2));
    nexts[1].ops = {pool_after(c1, 2, 2, 2)};
    nexts[2].ops = {pool_after(c1, oh, ow, 1)};
    nexts[3].ops = {conv_k(rng, oc, 2, oh, ow, 3, pow2)};
    nexts[4].ops = {LinearOp::dense(3, c1.rows, kernel(rng, 3 * c1.rows, 127))};
    // A pool then a conv of 72 or more taps: the int8 route, fed the pool's 64-bit sums directly.
    nexts[5].ops = {pool_after(c1, 2, 2, 2)};
    nexts[5].ops.push_back(conv_k(rng, oc, 3, oh / 2, ow / 2, 6, pow2, 3));
    nexts[6].ops = {pool_after(c1, 2, 2, 2)};
    nexts[6].ops.push_back(LinearOp::dense(3, nexts[6].ops[0].rows, kernel(rng, 3 * nexts[6].ops[0].rows, 127)));
    for (auto& n : nexts) {
      const FieldLayer<F> next = layer_of<F>(n, rng, 8);
      EXPECT_EQ(cpu->forward_of_square(next, Z, batch).data, cpu->forward_of_square(next, Zw, batch).data)
          << where << " next " << (&n - nexts.data());
    }
    EXPECT_EQ(cpu->square(Z).data, cpu->square(Zw).data) << where;
    expect_proof_readers_agree(*cpu, Z, Zw, rng, where);
  }
}

// Conv 3 -> 8 on 8 x 8 images (27 taps: the limb route, a narrow Z), then a pool and conv 8 -> 4
// (72 taps: the int8 route, fed the pool's 64-bit sums where VNNI or AMX runs it), then a pool and
// a dense op to 10.
QuantizedModel cnn_with_a_narrow_z(std::mt19937_64& rng) {
  QuantizedModel m;
  m.input_shape = {3, 8, 8};
  m.layers.resize(3);
  m.layers[0].ops = {conv_k(rng, 3, 8, 8, 8, 3, false)};
  m.layers[1].ops = {pool_after(m.layers[0].ops[0], 2, 2, 2), conv_k(rng, 8, 4, 4, 4, 3, false)};
  m.layers[2].ops = {pool_after(m.layers[1].ops[1], 2, 2, 2), LinearOp::dense(10, 16, kernel(rng, 160, 127))};
  for (QuantizedLayer& l : m.layers) {
    l.rows = l.ops.back().rows, l.cols = l.ops.front().cols;
    for (std::size_t a = 0; a < l.rows; ++a) l.bias.push_back(std::uniform_int_distribution<int>(-50, 50)(rng));
  }
  m.validate();
  return m;
}

// A whole proof whose first Z the cpu engine keeps narrow (int32) and, where the int8 route runs,
// its second too (int64) is the reference engine's, byte for byte.
TYPED_TEST(NarrowTableTest, AProofWithANarrowZIsTheReferenceBytes) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(304);
  const QuantizedModel m = cnn_with_a_narrow_z(rng);
  const auto cpu = make_cpu_engine<TypeParam>();
  for (std::size_t batch : {5, 40}) {
    const Statement<TypeParam> st = testing::random_statement<TypeParam>(m, batch, rng, 100);
    const ProofLayout layout(m, kProofVersion);
    const auto trace = run_forward(*cpu, field_layers<F>(layout.model()), to_proof_input(layout, st.input, batch),
                                   batch, {}, Activations::for_proof);
    EXPECT_NE(narrow_table(trace.Z[0]), nullptr) << "batch " << batch;
    if (int8_conv_route_fits(m.layers[1].ops[1])) {  // the second Z from the int64 join
      ASSERT_NE(narrow_table(trace.Z[1]), nullptr) << "batch " << batch;
      EXPECT_TRUE(narrow_table(trace.Z[1])->wide()) << "batch " << batch;
    }
    Statement<TypeParam> cpu_st = st, ref_st = st;
    EXPECT_EQ(serialize_bundle(prove_bundle(*cpu, cpu_st)),
              serialize_bundle(prove_bundle(*make_reference_engine<TypeParam>(), ref_st)))
        << "batch " << batch;
  }
}

// An int64 table of 2 channels of 8 x 8 at +-(2^60 - 1), extreme_corner's signs by quarter of the
// rows: the largest entries a wide narrow table holds, read by the next layer's pool of their
// squares (four taps: sums up to 2^122) and by the proof's readers as their widened copy.
TYPED_TEST(NarrowTableTest, WideTablesAtTheirBoundReadAsTheirWidenedCopies) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(305);
  const auto cpu = make_cpu_engine<TypeParam>();
  ConvShape c;
  c.in_channels = c.out_channels = 2, c.in_h = c.in_w = 8, c.kernel_h = c.kernel_w = 1;
  QuantizedLayer q;  // Z's own layer: its shape only
  q.ops = {LinearOp::convolution(c, WeightMatrix(std::vector<std::int64_t>{1, 1}))};
  for (std::size_t batch : {5, 300}) {
    const std::size_t rows = padded(q.ops[0].rows), cols = padded(batch);
    const std::int64_t top = (std::int64_t{1} << kNarrowWideBits) - 1;
    auto narrow = std::make_shared<NarrowTable>();
    narrow->bits = kNarrowWideBits;
    narrow->v64.resize(rows * cols);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < cols; ++k)
        narrow->v64[r * cols + k] = r < q.ops[0].rows && k < batch ? extreme_corner(r / (rows / 4), k + r, 1) * top : 0;
    const Table2D<F> Z = narrow_table2d<F>(rows, cols, std::move(narrow)), Zw = widened(Z);
    const std::string where = "batch " + std::to_string(batch);
    QuantizedLayer pq;
    pq.ops = {pool_after(q.ops[0], 2, 2, 2)};
    const FieldLayer<F> pool = layer_of<F>(pq, rng, 8);
    EXPECT_EQ(cpu->forward_of_square(pool, Z, batch).data, cpu->forward_of_square(pool, Zw, batch).data) << where;
    expect_proof_readers_agree(*cpu, Z, Zw, rng, where);
  }
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
      return top ? WeightMatrix(std::vector<std::int64_t>(n, wmax)) : kernel(rng, n, wmax);
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
      nq.ops = {i >= 3 ? LinearOp::dense(2, last.rows, kernel(rng, 2 * last.rows, 127)) : pool_after(last, 2, 2, 2)};
      const FieldLayer<F> next = layer_of<F>(nq, rng, 0);
      Table2D<F> got = cpu->forward_hidden(second, next, Z1, batch, InputIs::squared);
      const NarrowTable* narrow = narrow_table(got);
      if (i < 2) {
        ASSERT_NE(narrow, nullptr) << where;
        narrow->visit([&](const auto* v) {
          for (std::size_t e = 0; e < got.rows * got.cols; ++e)
            ASSERT_LT(static_cast<u128>(v[e] < 0 ? -static_cast<i128>(v[e]) : v[e]), u128{1} << narrow->bits) << where;
        });
        EXPECT_EQ(narrow->wide(), narrow->bits > 31 || (i == 1 && int8_conv_route_fits(last))) << where;
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

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
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/cpu/sumcheck_kernels.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/proof.hpp"

namespace nnproof {
namespace {

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

template <class F>
Table2D<F> widened(Table2D<F> t) {
  widen_narrow_table(t);
  return t;
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
      for (unsigned bits : {1u, 8u, 14u, 20u, 24u, 30u}) {
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
    // first), a dense layer, pool then a conv of the int8 route.
    const LinearOp& c1 = q1.ops[0];
    const std::size_t oc = c1.conv.out_channels, oh = c1.conv.out_h(), ow = c1.conv.out_w();
    const bool pow2 = c1.conv.pow2_out;
    std::vector<QuantizedLayer> nexts(6);
    nexts[0].ops = {pool_after(c1, 2, 2, 2)};
    nexts[0].ops.push_back(conv_k(rng, oc, 2, oh / 2, ow / 2, 2, pow2));
    nexts[1].ops = {pool_after(c1, 2, 2, 2)};
    nexts[2].ops = {pool_after(c1, oh, ow, 1)};
    nexts[3].ops = {conv_k(rng, oc, 2, oh, ow, 3, pow2)};
    nexts[4].ops = {LinearOp::dense(3, c1.rows, kernel(rng, 3 * c1.rows, 127))};
    // A pool then a conv of 72 or more taps: the int8 route, fed the pool's 64-bit sums directly.
    nexts[5].ops = {pool_after(c1, 2, 2, 2)};
    nexts[5].ops.push_back(conv_k(rng, oc, 3, oh / 2, ow / 2, 6, pow2, 3));
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

// Entry k of row i of a group (rows z00, z01, z10, z11) at +-top with signs (-, +, +, -), flipped on
// odd k: every difference and extension the kernels form is at its largest (d_0 = 2 top, d_1 =
// -2 top, 2 a_1 - a_0 = 3 top, 2 d_1 - d_0 = -6 top, z11 - z01 - z10 + z00 = -4 top).
std::int32_t extreme_corner(std::size_t i, std::size_t k, std::int32_t top) {
  const bool up = (i == 1 || i == 2) != (k % 2 == 1);
  return up ? top : -top;
}

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
    for (int fill = 0; fill < 3; ++fill) {
      std::array<std::vector<T>, 4> rows;
      std::array<std::vector<Fp127>, 4> wide;
      for (std::size_t i = 0; i < 4; ++i) {
        rows[i].resize(cols);
        for (std::size_t k = 0; k < cols; ++k) {
          const T r = std::uniform_int_distribution<T>(-top, top)(rng);
          rows[i][k] = fill == 0 ? extreme_corner(i, k, 1) * top : fill == 1 ? (k % 3 ? 0 : r) : r;
        }
        wide[i].resize(cols);
        widen_entries(rows[i].data(), cols, wide[i].data());
      }
      const auto want = group_sums_portable<Fp127, Fp127>(wide[0].data(), wide[1].data(), wide[2].data(),
                                                          wide[3].data(), std::span<const Fp127>(eq));
      EXPECT_EQ(kernel(rows[0].data(), rows[1].data(), rows[2].data(), rows[3].data(), weights), want)
          << sizeof(T) * 8 << "-bit entries, " << cols << " columns, fill " << fill;
    }
  }
}

TEST(NarrowGroupSums, TheIntegerKernelIsTheFieldKernel) {
  const M127NarrowGroupSums kernel = m127_narrow_group_sums();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(305);
  expect_group_sums_kernel_is_the_field_kernel(kernel, (std::int32_t{1} << kNarrowProductBits) - 1, rng);
}

TEST(NarrowGroupSums, TheWideKernelIsTheFieldKernel) {
  const M127WideGroupSums kernel = m127_wide_group_sums();
  if (!kernel) GTEST_SKIP() << "no AVX-512 IFMA kernels on this CPU";
  auto rng = testing::make_rng(308);
  expect_group_sums_kernel_is_the_field_kernel(kernel, (std::int64_t{1} << kWideEntryBits) - 1, rng);
}

// square_group_sums of a narrow table at an integer kernel's bound and past it (int32: 27 to 31
// bits; int64: 59 to 62), entries at +-(2^bits - 1) in extreme_corner's pattern: the same V and
// group sums as the widened table's, whichever route the bound picks (past it the rows are widened).
TEST(NarrowGroupSums, TheBoundPicksAnExactRoute) {
  auto rng = testing::make_rng(307);
  for (unsigned bits : {27u, 28u, 29u, 31u, 59u, 60u, 61u, 62u}) {
    const std::size_t rows = 16, cols = 64;
    auto narrow = std::make_shared<NarrowTable>();
    narrow->bits = bits;
    const std::int64_t top = (std::int64_t{1} << bits) - 1;
    (bits > 31 ? narrow->v64.resize(rows * cols) : narrow->v.resize(rows * cols));
    for (std::size_t r = 0; r < rows; ++r)  // row r is row r / (rows / 4) of its group
      for (std::size_t k = 0; k < cols; ++k) {
        const std::int64_t x = extreme_corner(r / (rows / 4), k + r, 1) * top;
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

// The int8 convolution's int64 join (int8_conv_narrow's writer, mod 2^64) is its field join at the
// bound: 64-bit inputs at 2^raw - 1, every weight of a channel at an extreme of int8 (or of int16:
// two halves, lo + 256 hi), biases near 2^58, outputs near 2^60. 5 channels in blocks of a few
// channels and samples, and 16 channels in blocks of 8 samples, a last block of 5.
TEST(ConvInt8Narrow, TheInt64JoinIsTheFieldJoinAtTheBound) {
  auto rng = testing::make_rng(306);
  for (const std::size_t out_c : {std::size_t{5}, std::size_t{16}})
    for (const bool int16 : {false, true}) {
      ConvShape c;
      c.in_channels = 8, c.out_channels = out_c, c.in_h = c.in_w = 6, c.kernel_h = c.kernel_w = 3;
      c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
      const std::int64_t hi = int16 ? 32639 : 127, lo = int16 ? -32768 : -128;  // 32639: the most int16 splits
      std::vector<std::int64_t> w(c.kernel_size());
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i / (w.size() / out_c)) % 2 ? hi : lo;
      const LinearOp op = LinearOp::convolution(c, WeightMatrix(std::move(w)));
      if (!int8_conv_exact(op)) GTEST_SKIP() << "no VNNI or AMX here: the int8 route does not run";
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
      apply_conv_int8_into(op, in.data(), batch, batch, raw, NarrowOutput{got.data(), batch, bias.data()},
                           out_c == 5 ? std::size_t{6} << 10 : kConvChunkBytes);
      apply_conv_int8_into(op, in.data(), batch, batch, raw, OpOutput<Fp127>{want.data(), batch, fbias.data()});
      const std::string where = std::to_string(out_c) + " channels, " + (int16 ? "int16" : "int8");
      std::int64_t most = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(Fp127::from_int(got[i]), want[i]) << where << ", entry " << i;
        most = std::max(most, got[i] < 0 ? -got[i] : got[i]);
      }
      EXPECT_GE(most, std::int64_t{1} << (kNarrowWideBits - 3)) << where;
    }
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// The readers of the cpu engine's narrow hidden Z (kernels/cpu/narrow_table.hpp; its writers:
// test_narrow_table.cpp): every reader (the next layer's forward of its square, pools of 4 and of
// h w taps, chains that square first, dense layers; square; the pool of 64-bit sums that the int8
// convolution reads; the group sums of col_combine_of_squares; the square sum-check with and
// without its carry) gives what it gives on the widened table, at random and at the int64 bound,
// and a whole proof with narrow tables is the reference engine's bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

#include "host/prover.hpp"
#include "kernels/cpu/conv_int8.hpp"
#include "kernels/cpu/cpu_engine.hpp"
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

using testing::conv_k;
using testing::extreme_corner;
using testing::input_of;
using testing::layer_of;
using testing::pick;
using testing::pool_after;
using testing::random_conv;
using testing::random_kernel;
using testing::signed_below;
using testing::widened;

template <class Cfg>
class NarrowReadersTest : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(NarrowReadersTest, Configs);

// The proof's readers of a narrow Z against the same readers of its widened copy Zw: V and the
// carry, then the square sum-check's rounds, with the carry and without it. With `zero_point` the
// row point is all zeros: eq(s_v, 1) = 0 in every row round, so each round's q(1) is summed from
// the table directly (row_round_values' fallback), not taken from the claim.
template <class Cfg>
void expect_proof_readers_agree(Engine<Cfg>& cpu, const Table2D<typename Cfg::F>& Z, const Table2D<typename Cfg::F>& Zw,
                                std::mt19937_64& rng, const std::string& where, bool zero_point = false) {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  std::vector<K> s = testing::random_point<K>(rng, Z.rows);
  const std::vector<K> r = testing::random_point<K>(rng, Z.cols);
  if (zero_point) std::fill(s.begin(), s.end(), K::zero());
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
TYPED_TEST(NarrowReadersTest, EveryReaderGivesWhatItGivesOnTheWidenedTable) {
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
    q1.ops.push_back(at_top ? conv_k(rng, in_c, out_c, h, w, 3, rng() % 2 == 0)
                            : random_conv(rng, in_c, out_c, h, w, wmax));
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
    nexts[4].ops = {LinearOp::dense(3, c1.rows, random_kernel(rng, 3 * c1.rows, 127))};
    // A pool then a conv of 72 or more taps: the int8 route, fed the pool's 64-bit sums directly.
    nexts[5].ops = {pool_after(c1, 2, 2, 2)};
    nexts[5].ops.push_back(conv_k(rng, oc, 3, oh / 2, ow / 2, 6, pow2, 3));
    nexts[6].ops = {pool_after(c1, 2, 2, 2)};
    nexts[6].ops.push_back(LinearOp::dense(3, nexts[6].ops[0].rows, random_kernel(rng, 3 * nexts[6].ops[0].rows, 127)));
    for (auto& n : nexts) {
      const FieldLayer<F> next = layer_of<F>(n, rng, 8);
      EXPECT_EQ(cpu->forward_of_square(next, Z, batch).data, cpu->forward_of_square(next, Zw, batch).data)
          << where << " next " << (&n - nexts.data());
    }
    EXPECT_EQ(cpu->square(Z).data, cpu->square(Zw).data) << where;
    expect_proof_readers_agree(*cpu, Z, Zw, rng, where);
  }
}

// Conv 3 -> 8 on side x side images (27 taps: the limb route, a narrow Z), then a pool and conv 8
// -> 4 (72 taps: the int8 route, fed the pool's 64-bit sums where VNNI or AMX runs it), then a pool
// and a dense op to 10. (A side that is not a power of two pads the proof's images: ProofLayout.)
QuantizedModel cnn_with_a_narrow_z(std::mt19937_64& rng, std::size_t side = 8) {
  QuantizedModel m;
  m.input_shape = {3, side, side};
  m.layers.resize(3);
  m.layers[0].ops = {conv_k(rng, 3, 8, side, side, 3, false)};
  m.layers[1].ops = {pool_after(m.layers[0].ops[0], 2, 2, 2), conv_k(rng, 8, 4, side / 2, side / 2, 3, false)};
  const LinearOp pool2 = pool_after(m.layers[1].ops[1], 2, 2, 2);
  m.layers[2].ops = {pool2, LinearOp::dense(10, pool2.rows, random_kernel(rng, 10 * pool2.rows, 127))};
  for (QuantizedLayer& l : m.layers) {
    l.rows = l.ops.back().rows, l.cols = l.ops.front().cols;
    for (std::size_t a = 0; a < l.rows; ++a) l.bias.push_back(std::uniform_int_distribution<int>(-50, 50)(rng));
  }
  m.validate();
  return m;
}

// A whole proof of m on the cpu engine is the reference engine's, byte for byte, at batches 5 and
// 40; check(trace, batch) first inspects the cpu engine's forward trace.
template <class Cfg, class Check>
void expect_reference_bytes(const QuantizedModel& m, std::mt19937_64& rng, Check check) {
  const auto cpu = make_cpu_engine<Cfg>();
  for (std::size_t batch : {5, 40}) {
    const Statement<Cfg> st = testing::random_statement<Cfg>(m, batch, rng, 100);
    const ProofLayout layout(m, kProofVersion);
    check(run_forward(*cpu, field_layers<typename Cfg::F>(layout.model()), to_proof_input(layout, st.input, batch),
                      batch, {}, Activations::for_proof),
          batch);
    Statement<Cfg> cpu_st = st, ref_st = st;
    EXPECT_EQ(serialize_bundle(prove_bundle(*cpu, cpu_st)),
              serialize_bundle(prove_bundle(*make_reference_engine<Cfg>(), ref_st)))
        << "batch " << batch;
  }
}

// A whole proof whose first Z the cpu engine keeps narrow (int32) and, where the int8 route runs,
// its second too (int64) is the reference engine's, byte for byte.
TYPED_TEST(NarrowReadersTest, AProofWithANarrowZIsTheReferenceBytes) {
  auto rng = testing::make_rng(304);
  const QuantizedModel m = cnn_with_a_narrow_z(rng);
  expect_reference_bytes<TypeParam>(m, rng, [&](const ForwardTrace<TypeParam>& trace, std::size_t batch) {
    EXPECT_NE(narrow_table(trace.Z[0]), nullptr) << "batch " << batch;
    if (int8_conv_route_fits(m.layers[1].ops[1])) {  // the second Z from the int64 join
      ASSERT_NE(narrow_table(trace.Z[1]), nullptr) << "batch " << batch;
      EXPECT_TRUE(narrow_table(trace.Z[1])->wide()) << "batch " << batch;
    }
  });
}

// The same with 6 x 6 images, padded to 8 x 8 in the proof's tables: the first Z's padding
// positions are zero rows (NarrowTable::zero_rows), which the activation sum-check never reads or
// writes; the proof is still the reference engine's, byte for byte.
TYPED_TEST(NarrowReadersTest, AProofThatSkipsZeroRowsIsTheReferenceBytes) {
  auto rng = testing::make_rng(306);
  expect_reference_bytes<TypeParam>(
      cnn_with_a_narrow_z(rng, 6), rng, [](const ForwardTrace<TypeParam>& trace, std::size_t batch) {
        const NarrowTable* first = narrow_table(trace.Z[0]);
        ASSERT_NE(first, nullptr) << "batch " << batch;
        EXPECT_EQ(std::count(first->zero_rows.begin(), first->zero_rows.end(), 1), 8 * (64 - 36))
            << "batch " << batch;  // 8 channels of 6 x 6 in 8 x 8
      });
}

// A Z from a convolution in the pow2 layout of images that do not fill it (5 to 7 rows and columns
// in 8), its padding positions' biases zero as ProofLayout makes them: forward_hidden flags exactly
// those rows (NarrowTable::zero_rows), each of them zero, and the proof's readers, which skip them
// (the group sums, the first fold, the folds after it), give what they give on the widened table.
// Four channels (each group of the first fold all padding or none), three (the padded fourth
// channel's rows in groups with real ones), two and one (groups of rows at different positions);
// int32 and int64 tables.
TYPED_TEST(NarrowReadersTest, ZeroRowsAreSkippedExactly) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(305);
  const auto cpu = make_cpu_engine<TypeParam>();
  for (int trial = 0; trial < 8; ++trial) {
    const bool wide = trial >= 4;
    const std::size_t out_c = 4 - trial % 4, h = pick(rng, 5, 7), w = pick(rng, 5, 7);
    QuantizedLayer q1;
    q1.ops.push_back(conv_k(rng, 2, out_c, h, w, 3, true));  // padding 1: h x w outputs in 8 x 8
    FieldLayer<F> first = layer_of<F>(q1, rng, 10);
    const ConvShape& c = q1.ops[0].conv;
    for (std::size_t a = 0; a < q1.rows; ++a)
      if (is_padding_output(c, a) || a % 11 == 0) first.bias[a] = F::zero();  // and a few real positions
    QuantizedLayer pq;
    pq.ops = {pool_after(q1.ops[0], 2, 2, 2)};
    const FieldLayer<F> pool = layer_of<F>(pq, rng, 0);
    const std::size_t batch = pick(rng, 3, 40);
    const Table2D<F> Y = input_of<F>(rng, q1.cols, batch, wide ? 30 : 12);
    const Table2D<F> Z = cpu->forward_hidden(first, pool, Y, batch, InputIs::values);
    const std::string where = "trial " + std::to_string(trial);
    const NarrowTable* narrow = narrow_table(Z);
    ASSERT_NE(narrow, nullptr) << where;
    ASSERT_EQ(narrow->wide(), wide) << where;
    ASSERT_EQ(narrow->zero_rows.size(), q1.rows) << where;
    const Table2D<F> Zw = widened(Z);
    for (std::size_t a = 0; a < q1.rows; ++a) {
      ASSERT_EQ(narrow->zero_rows[a] != 0, is_padding_output(c, a)) << where << " row " << a;
      for (std::size_t k = 0; narrow->zero_rows[a] && k < Zw.cols; ++k) ASSERT_EQ(Zw.at(a, k), F::zero()) << where;
    }
    expect_proof_readers_agree(*cpu, Z, Zw, rng, where);
  }
}

// Any pattern of zero rows (most rows flagged, so that groups of the first fold and the folds after
// it are all zero, partly zero or not), with and without rows past real_rows, random row points
// and the zero point (each round's q(1) read from the folded table): the proof's readers give what
// they give on the widened table, int32 and int64.
TYPED_TEST(NarrowReadersTest, AnyPatternOfZeroRowsIsReadExactly) {
  using F = typename TypeParam::F;
  auto rng = testing::make_rng(307);
  const auto cpu = make_cpu_engine<TypeParam>();
  for (int trial = 0; trial < 12; ++trial) {
    const std::size_t rows = trial % 3 == 0 ? 16 : 64, cols = trial % 2 == 0 ? 8 : 64;
    const unsigned bits = trial < 6 ? 24 : 47;
    auto narrow = std::make_shared<NarrowTable>();
    narrow->bits = bits;
    narrow->real_rows = trial % 4 == 1 ? rows - rows / 4 : rows;  // the last quarter: padding, zero
    narrow->zero_rows.resize(rows);
    (bits > 31 ? narrow->v64.resize(rows * cols) : narrow->v.resize(rows * cols));
    for (std::size_t r = 0; r < rows; ++r) {
      narrow->zero_rows[r] = rng() % 5 != 0;
      for (std::size_t k = 0; k < cols; ++k) {
        const bool zero = narrow->zero_rows[r] || r >= narrow->real_rows;
        const std::int64_t x = zero ? 0 : signed_below<F>(rng, bits).centered();
        if (bits > 31)
          narrow->v64[r * cols + k] = x;
        else
          narrow->v[r * cols + k] = static_cast<std::int32_t>(x);
      }
    }
    const Table2D<F> Z = narrow_table2d<F>(rows, cols, narrow);
    expect_proof_readers_agree(*cpu, Z, widened(Z), rng, "trial " + std::to_string(trial), trial % 2 == 1);
  }
}

// An int64 table of 2 channels of 8 x 8 at +-(2^60 - 1), extreme_corner's signs by quarter of the
// rows: the largest entries a wide narrow table holds, read by the next layer's pool of their
// squares (four taps: sums up to 2^122) and by the proof's readers as their widened copy.
TYPED_TEST(NarrowReadersTest, WideTablesAtTheirBoundReadAsTheirWidenedCopies) {
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

}  // namespace
}  // namespace nnproof

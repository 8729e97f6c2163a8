// SPDX-License-Identifier: Apache-2.0
// Cross-engine, whole proofs and sum-check rounds: every engine of the registry (the cuda engine where a
// device exists) gives the reference engine's bytes, on networks of several depths and batches and on
// convolutional ones.
#include <gtest/gtest.h>

#include "host/sumcheck_driver.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/limb_gemm.hpp"
#include "kernels/registry.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "tests/kernels/engine_test.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/problems.hpp"
#include "verifier/channel.hpp"
#include "verifier/transcript.hpp"

namespace nnproof {
namespace {

using namespace engine_test;

// Whole proofs: the same bytes from every engine, on networks of several depths and batches.
// (prove_bundle goes through col_combine_of_squares and the square sum-check with its carry.)
TYPED_TEST(EngineTest, BundlesAreBitIdentical) {
  if constexpr (TypeParam::kId != FieldId::m61_interactive) {
    auto rng = make_rng(66);
    for (auto [dims, batch] : {std::pair{std::vector<std::size_t>{5, 3}, std::size_t{1}},
                               {{9, 7, 6, 3}, 13},
                               {{33, 20, 5}, 70},
                               // 4- and 2-row activations, a batch of 1: the smallest tables the
                               // cpu engine's carried first rounds take, and those it leaves alone
                               {{4, 3, 1, 2}, 1},
                               {{6, 4, 2, 3}, 5}}) {
      auto model = testing::random_model(dims, rng, 100, 100);
      auto st = testing::random_statement<TypeParam>(model, batch, rng);
      auto ref_st = st;
      const auto want = serialize_bundle(prove_bundle(*make_reference_engine<TypeParam>(), ref_st));
      for (const auto& engine : engines_under_test<TypeParam>()) {
        auto engine_st = st;
        EXPECT_EQ(serialize_bundle(prove_bundle(*engine, engine_st)), want) << engine->name();
      }
    }
  }
}

template <class Cfg>
void check_square_sumcheck_rounds(int special) {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  auto rng = make_rng(61 + special);
  auto Z = random_table<F>(13, 6, rng);  // 16 x 8 padded
  std::vector<K> s(4), r(3);
  for (auto& x : s) x = random_element<K>(rng);
  for (auto& x : r) x = random_element<K>(rng);
  if (special == 1) s[3] = K::zero();  // the first round's eq(s_v, 1) = 0
  if (special == 2) s[2] = K::zero();  // the second's (the cpu engine's carried round 2)
  if (special == 3) s[1] = K::zero();  // the third's (its fold of two variables fused with the round)
  // The claim: sum eq(s, j) eq(r, k) Z[j][k]^2, the MLE of Z o Z at (r low, s high).
  std::vector<K> point(r);
  point.insert(point.end(), s.begin(), s.end());
  std::vector<K> squares(Z.data.size());
  for (std::size_t i = 0; i < squares.size(); ++i) squares[i] = K::from_base(Z.data[i] * Z.data[i]);
  const K claim = mle_evaluate<K, K>(squares, point);
  std::vector<K> challenges(7);
  for (auto& c : challenges) c = random_element<K>(rng);
  auto ref = make_reference_engine<Cfg>();
  const std::vector<K> eq_r = eq_table<K>(r);
  const std::vector<K> V = ref->col_combine(ref->square(Z), eq_r);
  for (const auto& engine : engines_under_test<Cfg>()) {
    for (int order = 0; order < 4; ++order) {
      const bool carried = order & 1, fused = order < 2;
      SCOPED_TRACE(engine->name() + (carried ? " carried" : "") + (fused ? "" : " unfused"));
      // Carried: the rounds start from what the engine's col_combine_of_squares left (the cpu
      // engine: rounds 1-2 from group sums, round 3 folding two variables from Z).
      SquareCarry<K> carry;
      if (carried) {
        ASSERT_EQ(engine->col_combine_of_squares(Z, engine->square(Z), eq_r, carry), V);
      }
      auto a = ref->square_sumcheck(Z, s, r, claim, {});
      auto b = engine->square_sumcheck(Z, s, r, claim, std::move(carry));
      // a: round then fold; b: the driver's order, with fold and the next round fused, or (unfused)
      // round then fold like a, which every stage of an engine's sum-check must also take.
      auto hb = b->round();
      for (int round = 0; round < 7; ++round) {
        ASSERT_EQ(a->round(), hb) << "round " << round;
        a->fold(challenges[round]);
        if (round < 6 && fused) {
          hb = b->fold_and_round(challenges[round]);
        } else {
          b->fold(challenges[round]);
          if (round < 6) hb = b->round();
        }
      }
      EXPECT_EQ(a->final_value(), b->final_value());
    }
  }
}

// Structured layers (convolutions, sum pools, dense ops after them) as whole proofs: the same bytes
// from every engine, the thrust-omp twin in CI and cuda in the GPU bundle (scripts/gpu_bundle runs
// EngineTest*). Random CNNs of one to three layers, and one wide enough (8 channels of 16 x 16)
// that its tables span many 64-row blocks.
TYPED_TEST(EngineTest, StructuredLayersAreBitIdentical) {
  if constexpr (TypeParam::kId != FieldId::m61_interactive) {
    auto rng = make_rng(68);
    std::vector<std::pair<QuantizedModel, std::size_t>> cases;
    for (int c = 0; c < 6; ++c)
      cases.emplace_back(testing::random_cnn(rng, 1 + static_cast<std::size_t>(c % 3)), testing::pick(rng, 1, 9));
    {
      QuantizedModel wide;
      wide.input_shape = {8, 16, 16};
      testing::ImageDims img{8, 16, 16};
      QuantizedLayer l;
      l.cols = 8 * 16 * 16;
      l.ops.push_back(testing::random_conv(rng, img));
      l.ops.push_back(testing::random_sum_pool(rng, img));
      l.rows = img.c * img.h * img.w;
      const std::vector<std::int64_t> bias = random_ints(rng, l.rows, 3);
      l.bias.assign(bias.begin(), bias.end());
      wide.layers.push_back(std::move(l));
      wide.validate();
      cases.emplace_back(std::move(wide), 33);
    }
    for (std::size_t c = 0; c < cases.size(); ++c) {
      auto st = testing::random_statement<TypeParam>(cases[c].first, cases[c].second, rng);
      auto ref_st = st;
      const auto want = serialize_bundle(prove_bundle(*make_reference_engine<TypeParam>(), ref_st));
      for (const auto& engine : engines_under_test<TypeParam>()) {
        auto engine_st = st;
        EXPECT_EQ(serialize_bundle(prove_bundle(*engine, engine_st)), want) << engine->name() << ", case " << c;
      }
    }
  }
}

// A layer's matrix-product sum-check made from its points (layer_product_sumcheck), whose tables
// the Thrust engine makes on its device only when the rounds start (from points uploaded with the
// transcript's state, or alone for host-driven rounds): its rounds and final value are the reference
// engine's, driven from the host (round, fold_and_round, fold) and through a Fiat-Shamir transcript
// (run_fiat_shamir, replayed), on dense and structured layers, from a host table Y and from one the
// engine made, and for a layer of one column (no rounds: the final value alone).
template <class Cfg>
void check_layer_product_sumcheck(Engine<Cfg>& engine, const QuantizedModel& model, std::size_t batch,
                                  std::mt19937_64& rng) {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  const auto layers = field_layers<F>(model);
  const auto& layer = layers.front();
  auto ref = make_reference_engine<Cfg>();
  std::vector<K> q(ceil_log2(layer.rows())), r(ceil_log2(batch));
  for (auto& x : q) x = random_element<K>(rng);
  for (auto& x : r) x = random_element<K>(rng);
  const auto Z = random_table<F>(layer.cols(), batch, rng);
  const Table2D<F> host_y = ref->square(Z), engine_y = engine.square(Z);
  const unsigned n = ceil_log2(layer.cols());
  for (const Table2D<F>* y : {&host_y, &engine_y}) {
    SquareCarry<K> ref_carry, carry;
    auto a = ref->layer_product_sumcheck(layer, host_y, nullptr, q, r, ref_carry);
    auto b = engine.layer_product_sumcheck(layer, *y, nullptr, q, r, carry);
    // h(0) and h(2): a degree-2 round's third value is unspecified.
    const auto two = [](const std::array<K, 3>& h) { return std::pair{h[0], h[1]}; };
    if (n > 0) {
      ASSERT_EQ(two(a->round()), two(b->round()));
      for (unsigned t = 1; t < n; ++t) {
        const K c = random_element<K>(rng);
        a->fold(c);
        ASSERT_EQ(two(a->round()), two(b->fold_and_round(c))) << "round " << t;
      }
      const K c = random_element<K>(rng);
      a->fold(c);
      b->fold(c);
    }
    EXPECT_EQ(a->final_value(), b->final_value());
    // Through a transcript: the engine's device rounds (if it runs them) replayed, the reference's
    // driven by the host; the same messages, challenges and final value.
    auto a2 = ref->layer_product_sumcheck(layer, host_y, nullptr, q, r, ref_carry);
    auto b2 = engine.layer_product_sumcheck(layer, *y, nullptr, q, r, carry);
    Transcript ta(Cfg::kId, 0), tb(Cfg::kId, 0);
    FiatShamirProverChannel<K> cha(ta), chb(tb);
    EXPECT_EQ(run_sumcheck(*a2, n, 2, cha), run_sumcheck(*b2, n, 2, chb));
    EXPECT_EQ(cha.messages(), chb.messages());
    EXPECT_EQ(a2->final_value(), b2->final_value());
  }
}

TYPED_TEST(EngineTest, LayerProductSumcheckIsBitIdentical) {
  auto rng = make_rng(69);
  std::vector<QuantizedModel> models;
  models.push_back(testing::random_model({37, 21}, rng, 100, 100));
  models.push_back(testing::random_model({1, 5}, rng, 100, 100));  // one column: no rounds
  models.push_back(testing::random_model({6, 1}, rng, 100, 100));  // one row: q is empty
  models.push_back(testing::random_cnn(rng, 1));
  for (const auto& engine : engines_under_test<TypeParam>()) {
    for (std::size_t m = 0; m < models.size(); ++m) {
      SCOPED_TRACE(engine->name() + ", model " + std::to_string(m));
      check_layer_product_sumcheck<TypeParam>(*engine, models[m], m == 0 ? 13 : 3, rng);
    }
  }
}

// Random points, and points whose coordinates are 0 or 1 where the cpu engine cannot derive
// h(1) from the claim (eq(s_v, 1) = 0, or an earlier factor eq(s_v, r) = 0) and must compute it.
TYPED_TEST(EngineTest, SumcheckRoundsAreBitIdentical) {
  for (int special : {0, 1, 2, 3}) {
    check_square_sumcheck_rounds<TypeParam>(special);
  }
}

}  // namespace
}  // namespace nnproof

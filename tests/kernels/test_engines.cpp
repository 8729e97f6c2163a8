// SPDX-License-Identifier: Apache-2.0
// Cross-engine: every Engine operation of the cpu engine, of the thrust-omp engine (the OpenMP
// build of the CUDA engine's source) and, where a device exists, of the cuda engine is
// bit-identical to the reference engine, including the limb-GEMM paths' edge cases (the exactness
// bounds, wide weights, the direct kernels), and so are whole proof bundles.
#include <gtest/gtest.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/limb_gemm.hpp"
#include "kernels/registry.hpp"
#include "kernels/thrust/device_info.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::random_element;

template <class Cfg>
class EngineTest : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127, M61Interactive>;
TYPED_TEST_SUITE(EngineTest, Configs);

using testing::engines_under_test;

template <class F>
Table2D<F> random_table(std::size_t real_rows, std::size_t real_cols, std::mt19937_64& rng) {
  Table2D<F> t(padded(real_rows), padded(real_cols));
  for (std::size_t j = 0; j < real_rows; ++j)
    for (std::size_t k = 0; k < real_cols; ++k) t.at(j, k) = random_element<F>(rng);
  return t;
}

TYPED_TEST(EngineTest, OperationsAreBitIdentical) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = make_rng(60);
  auto ref = make_reference_engine<TypeParam>();
  const std::int64_t big = std::int64_t{1} << 40;
  for (const auto& engine : engines_under_test<TypeParam>()) {
    SCOPED_TRACE(engine->name());
    // Weight ranges: int8 (limb GEMMs), wide (fewer bits per limb), huge (the direct kernels).
    for (std::int64_t wmax : {std::int64_t{1}, std::int64_t{127}, std::int64_t{1} << 20, big}) {
      for (auto [rows, cols, batch] : {std::tuple{1, 1, 1}, {7, 9, 5}, {33, 17, 64}, {16, 64, 3}}) {
        auto model = testing::random_model({std::size_t(cols), std::size_t(rows)}, rng, wmax, wmax);
        auto layers = field_layers<F>(model);
        auto Y = random_table<F>(cols, batch, rng);
        auto Zr = ref->forward(layers[0], Y, batch), Ze = engine->forward(layers[0], Y, batch);
        auto Ye = engine->square(Ze);  // from the engine's own table, wherever it lives
        engine->to_host(Ze);
        engine->to_host(Ye);
        ASSERT_EQ(Zr.data, Ze.data) << "forward, wmax " << wmax;
        ASSERT_EQ(ref->square(Zr).data, Ye.data);
        std::vector<K> q(ceil_log2(rows)), r(ceil_log2(batch));
        for (auto& x : q) x = random_element<K>(rng);
        for (auto& x : r) x = random_element<K>(rng);
        auto eq_q = eq_table<K>(q), eq_r = eq_table<K>(r);
        ASSERT_EQ(ref->row_combine(layers[0], eq_q), engine->row_combine(layers[0], eq_q));
        ASSERT_EQ(ref->col_combine(Y, eq_r), engine->col_combine(Y, eq_r));
      }
    }
  }
}

// Y entries at p - 1 in every limb: the int8 limb GEMM's largest partial sums, at 5 and 520 rows
// (more than one of the cpu engine's 256-row recombination tiles).
TYPED_TEST(EngineTest, LimbGemmEdgeValuesAreExact) {
  using F = typename TypeParam::F;
  auto ref = make_reference_engine<TypeParam>();
  auto rng = make_rng(64);
  for (auto [w, rows] : {std::pair{std::int64_t{127}, 5}, {std::int64_t{-128}, 5}, {std::int64_t{-128}, 520}}) {
    QuantizedModel m = testing::random_model({300, std::size_t(rows)}, rng, 1, 1);
    m.layers[0].weights = std::vector<std::int64_t>(std::size_t(rows) * 300, w);
    auto layers = field_layers<F>(m);
    // 300 samples: more than one of the cpu engine's 256-column GEMM blocks.
    Table2D<F> Y(padded(300), padded(300));
    for (std::size_t j = 0; j < 300; ++j)
      for (std::size_t k = 0; k < 300; ++k) Y.at(j, k) = F::zero() - F::one();
    for (const auto& engine : engines_under_test<TypeParam>()) {
      auto Ze = engine->forward(layers[0], Y, 300);
      engine->to_host(Ze);
      EXPECT_EQ(ref->forward(layers[0], Y, 300).data, Ze.data) << engine->name() << " w " << w << " rows " << rows;
    }
  }
}

// Random int8 weights and entries, rows and inner sizes off every tile size (the cpu engine's
// 256-row tiles, 64-row split blocks, 8-column groups), two column blocks (256 + 44 samples): any
// transposed operand or misplaced limb shows.
TYPED_TEST(EngineTest, LimbGemmRandomCasesAreExact) {
  using F = typename TypeParam::F;
  auto ref = make_reference_engine<TypeParam>();
  auto rng = make_rng(66);
  for (auto [rows, inner] : {std::pair{std::size_t{37}, std::size_t{301}}, {std::size_t{530}, std::size_t{211}}}) {
    QuantizedModel m = testing::random_model({inner, rows}, rng, 127, 1000);
    auto layers = field_layers<F>(m);
    auto Y = random_table<F>(inner, 300, rng);
    for (const auto& engine : engines_under_test<TypeParam>()) {
      auto Ze = engine->forward(layers[0], Y, 300);
      engine->to_host(Ze);
      EXPECT_EQ(ref->forward(layers[0], Y, 300).data, Ze.data)
          << engine->name() << " rows " << rows << " inner " << inner;
    }
  }
}

// The cpu engine caches each layer's repacked weights, the Thrust engines their device copy (read
// by forward and row_combine): one engine, the same weight buffer rewritten between calls (one
// weight changed, as a new model at a recycled address would be), must use the new weights.
// 520 rows: several of the Thrust engines' 64-row blocks, the last one partial.
TYPED_TEST(EngineTest, ForwardFollowsWeightsChangedInPlace) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto ref = make_reference_engine<TypeParam>();
  auto rng = make_rng(67);
  QuantizedModel m = testing::random_model({300, 520}, rng, 127, 1000);
  auto Y = random_table<F>(300, 40, rng);
  std::vector<K> eq_q(padded(520));
  for (auto& x : eq_q) x = random_element<K>(rng);
  for (const auto& engine : engines_under_test<TypeParam>()) {
    for (int round = 0; round < 2; ++round) {
      auto layers = field_layers<F>(m);
      auto Ze = engine->forward(layers[0], Y, 40);
      engine->to_host(Ze);
      EXPECT_EQ(ref->forward(layers[0], Y, 40).data, Ze.data) << engine->name() << " round " << round;
      EXPECT_EQ(ref->row_combine(layers[0], eq_q), engine->row_combine(layers[0], eq_q))
          << engine->name() << " round " << round;
      std::int8_t* w = m.layers[0].weights.mutable_int8_data();  // renews the stamp the caches key on
      ASSERT_NE(w, nullptr);
      w[520 * 300 - 1] = static_cast<std::int8_t>(w[520 * 300 - 1] == 5 ? 6 : 5);  // the last weight
    }
  }
}

// A Thrust engine knows its tables by their device copy's kind (Table2D::device, table.hpp): it
// reads a table another engine of its build made, with no host data, and refuses a copy of another
// kind (as the cuda engine's would be to thrust-omp) instead of reading it as its own.
struct ForeignCopy final : DeviceCopy {
  ForeignCopy() : DeviceCopy(&tag) {}
  static inline char tag = 0;
};

TYPED_TEST(EngineTest, ThrustEnginesKnowTheirTablesByKind) {
  if (!thrust_engines_built()) GTEST_SKIP() << "built without CUDA";
  using F = typename TypeParam::F;
  auto rng = make_rng(68);
  auto ref = make_reference_engine<TypeParam>();
  auto maker = make_thrust_omp_engine<TypeParam>(), reader = make_thrust_omp_engine<TypeParam>();
  const auto Y = random_table<F>(9, 5, rng);
  const auto Z = maker->square(Y);
  ASSERT_FALSE(Z.on_host());
  auto Y2 = reader->square(Z);
  reader->to_host(Y2);
  EXPECT_EQ(ref->square(ref->square(Y)).data, Y2.data);
  Table2D<F> foreign;
  foreign.rows = Y.rows;
  foreign.cols = Y.cols;
  foreign.device = std::make_shared<ForeignCopy>();
  EXPECT_THROW(reader->square(foreign), std::logic_error);
  EXPECT_THROW(reader->to_host(foreign), std::logic_error);
}

// Every byte of every eq(q, .) coordinate at its largest (p - 1) against weights at 127 and -128,
// over thousands of rows: the cpu engine's byte x int8 GEMM at its largest partial sums.
TYPED_TEST(EngineTest, RowCombineEdgeValuesAreExact) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto ref = make_reference_engine<TypeParam>();
  auto rng = make_rng(65);
  const F top = F::zero() - F::one();
  K e = K::from_base(top);
  if constexpr (!std::is_same_v<K, F>) e.im = top;
  for (std::int64_t w : {std::int64_t{127}, std::int64_t{-128}}) {
    QuantizedModel m = testing::random_model({7, 3000}, rng, 1, 1);
    m.layers[0].weights = std::vector<std::int64_t>(3000 * 7, w);
    auto layers = field_layers<F>(m);
    const std::vector<K> eq_q(padded(3000), e);
    for (const auto& engine : engines_under_test<TypeParam>())
      EXPECT_EQ(ref->row_combine(layers[0], eq_q), engine->row_combine(layers[0], eq_q))
          << engine->name() << " w " << w;
  }
}

TYPED_TEST(EngineTest, ProductSumcheckRoundsAreBitIdentical) {
  using K = typename TypeParam::K;
  auto rng = make_rng(65);
  std::vector<K> A(32), V(32);
  for (auto& x : A) x = random_element<K>(rng);
  for (auto& x : V) x = random_element<K>(rng);
  for (const auto& engine : engines_under_test<TypeParam>()) {
    auto a = make_reference_engine<TypeParam>()->product_sumcheck(A, V);
    auto b = engine->product_sumcheck(A, V);
    auto hb = b->round();
    for (int round = 0; round < 5; ++round) {
      const auto ha = a->round();  // degree 2: h(0) and h(2) are the message (the reference adds h(3))
      ASSERT_EQ(ha[0], hb[0]) << engine->name() << " round " << round;
      ASSERT_EQ(ha[1], hb[1]) << engine->name() << " round " << round;
      const K c = random_element<K>(rng);
      a->fold(c);
      if (round < 4)
        hb = b->fold_and_round(c);
      else
        b->fold(c);
    }
    EXPECT_EQ(a->final_value(), b->final_value()) << engine->name();
  }
}

// Tables large enough for what small cases never reach: the GPU reductions' multi-tile paths (a
// keyed reduction over 2^20 entries, product sum-checks of 2^20 terms, by the host's rounds and by
// the engine's own Fiat-Shamir rounds) and the int8 limb GEMM's int32 limit (inner 132104, the
// largest with 128 x 127 x inner < 2^31, against p - 1 everywhere and weights at -128; one more
// column takes the direct kernel).
TYPED_TEST(EngineTest, LargeTablesAndTheInt32LimitAreExact) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = make_rng(67);
  auto ref = make_reference_engine<TypeParam>();
  const auto Y = random_table<F>(2048, 512, rng);
  std::vector<K> r(9);
  for (auto& x : r) x = random_element<K>(rng);
  const std::vector<K> eq_r = eq_table<K>(r), V_want = ref->col_combine(Y, eq_r);
  std::vector<K> A(std::size_t{1} << 20), V(A.size());
  for (auto& x : A) x = random_element<K>(rng);
  for (auto& x : V) x = random_element<K>(rng);
  // The rounds of a Fiat-Shamir transcript, driven from the host on the reference engine.
  Transcript want_t(TypeParam::kId, 0);
  auto want_sc = ref->product_sumcheck(A, V);
  std::vector<K> want_messages;
  for (unsigned t = 0; t < 20; ++t) {
    const auto h = t == 0 ? want_sc->round() : want_sc->fold_and_round(want_t.challenge<K>());
    want_messages.insert(want_messages.end(), h.begin(), h.begin() + 2);
    want_t.absorb_elements<K>("message", std::span<const K>(h.data(), 2));
  }
  want_sc->fold(want_t.challenge<K>());
  bool device_rounds_ran = false;
  for (const auto& engine : engines_under_test<TypeParam>()) {
    SCOPED_TRACE(engine->name());
    ASSERT_EQ(engine->col_combine(Y, eq_r), V_want);
    const auto h = engine->product_sumcheck(A, V)->round();  // degree 2: h(0), h(2) (the reference adds h(3))
    ASSERT_EQ(h[0], want_messages[0]);
    ASSERT_EQ(h[1], want_messages[1]);
    auto sc = engine->product_sumcheck(A, V);
    TranscriptState start;
    const Transcript fresh(TypeParam::kId, 0);
    std::copy(fresh.state().begin(), fresh.state().end(), start.bytes);
    if (const auto rounds = sc->run_fiat_shamir(start, 20, 2)) {
      EXPECT_EQ(rounds->messages, want_messages);
      EXPECT_EQ(sc->final_value(), want_sc->final_value());
      device_rounds_ran = true;
    }
  }
  EXPECT_EQ(device_rounds_ran, engine_unavailable_reason(EngineId::thrust_omp).empty());
  for (std::size_t inner : {std::size_t{132104}, std::size_t{132105}}) {
    QuantizedModel m = testing::random_model({inner, 3}, rng, 1, 1);
    m.layers[0].weights = std::vector<std::int64_t>(3 * inner, -128);
    auto layers = field_layers<F>(m);
    Table2D<F> X(padded(inner), 2);
    for (std::size_t j = 0; j < inner; ++j) X.at(j, 0) = X.at(j, 1) = F::zero() - F::one();
    const auto want = ref->forward(layers[0], X, 2).data;
    for (const auto& engine : engines_under_test<TypeParam>()) {
      auto Z = engine->forward(layers[0], X, 2);
      engine->to_host(Z);
      EXPECT_EQ(Z.data, want) << engine->name() << " inner " << inner;
    }
  }
}

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

// Random points, and points whose coordinates are 0 or 1 where the cpu engine cannot derive
// h(1) from the claim (eq(s_v, 1) = 0, or an earlier factor eq(s_v, r) = 0) and must compute it.
TYPED_TEST(EngineTest, SumcheckRoundsAreBitIdentical) {
  for (int special : {0, 1, 2, 3}) {
    check_square_sumcheck_rounds<TypeParam>(special);
  }
}

// The Thrust engine keeps a proof's sum-check rounds on its device (SumcheckProver::run_fiat_shamir):
// the host waits a fixed number of times per layer, not once per round. Measured on the OpenMP
// twin, which counts the waits the cuda build would make (kernels/thrust/host_syncs.hpp): the same
// count for a network 16 times wider (four more rounds per sum-check), and at most kPerLayer per
// layer. A driver that ran the rounds from the host again (one wait per round) fails both.
std::size_t thrust_proof_syncs(std::size_t width, std::size_t layers) {
  auto rng = make_rng(91);
  std::vector<std::size_t> dims(layers + 1, width);
  auto model = testing::random_model(dims, rng, 100, 100);
  auto st = testing::random_statement<M61>(model, 32, rng);
  auto engine = make_engine<M61>("thrust-omp");
  const std::size_t before = engine->host_syncs();
  const auto bundle = prove_bundle(*engine, st);
  auto ref_st = st;
  EXPECT_EQ(serialize_bundle(bundle), serialize_bundle(prove_bundle(*make_reference_engine<M61>(), ref_st)));
  return engine->host_syncs() - before;
}

TEST(ThrustEngine, HostSyncsPerProofGrowWithLayersNotRounds) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  // ~12 today (35 for 3 layers): the uploads of the bias, eq(q), eq(r), A with V, the two eq
  // tables and the transcript states, the downloads of A, V and the rounds. Making a table waits
  // for nothing (transfers.hpp); it was two thirds of the count (101 for 3 layers, session 11).
  constexpr std::size_t kPerLayer = 14;
  const std::size_t narrow = thrust_proof_syncs(16, 3), wide = thrust_proof_syncs(256, 3);
  EXPECT_EQ(narrow, wide) << "the host waits more often for a wider network: once per round?";
  EXPECT_LE(wide, 3 * kPerLayer);
  EXPECT_GT(wide, 0u);  // the count is live
  std::printf("thrust-omp: %zu host syncs per proof of 3 layers\n", wide);
}

// A warm engine's proof allocates a fixed few device tables per layer (Engine::table_allocations):
// the operations' scratch tables are kept across operations and proofs (engine.inl, gemm.inl) and
// each sum-check's round buffers are one table (sumchecks.inl). Measured on the OpenMP twin, whose
// allocator is the cuda build's: the same count for a network 16 times wider, at most kPerLayer.
std::size_t thrust_proof_tables(std::size_t width, std::size_t layers) {
  auto rng = make_rng(92);
  std::vector<std::size_t> dims(layers + 1, width);
  auto model = testing::random_model(dims, rng, 100, 100);
  const auto st = testing::random_statement<M61>(model, 32, rng);
  auto engine = make_engine<M61>("thrust-omp");
  auto cold_st = st, warm_st = st, ref_st = st;
  const std::size_t cold_before = engine->table_allocations();
  static_cast<void>(prove_bundle(*engine, cold_st));  // the first: the weights' copies, the scratch
  const std::size_t before = engine->table_allocations();
  const auto bundle = prove_bundle(*engine, warm_st);
  const std::size_t warm = engine->table_allocations() - before;
  EXPECT_EQ(serialize_bundle(bundle), serialize_bundle(prove_bundle(*make_reference_engine<M61>(), ref_st)));
  std::printf("thrust-omp: %zu device tables allocated by a cold proof of %zu layers of %zu, %zu by a warm one\n",
              before - cold_before, layers, width, warm);
  return warm;
}

TEST(ThrustEngine, TableAllocationsPerProofAreBounded) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  // ~11 per layer today (34 for 3 layers): the forward's and square's outputs, the sum-checks'
  // tables, spares and round buffers. Was 27 (81): every scratch table, eq upload and round buffer
  // its own. The narrow network's few more: its column eq table outgrows the row table's spare.
  constexpr std::size_t kPerLayer = 13;
  const std::size_t narrow = thrust_proof_tables(16, 3), wide = thrust_proof_tables(256, 3);
  EXPECT_LE(wide, narrow) << "a wider network (more rounds) allocates more tables: once per round?";
  EXPECT_LE(wide, 3 * kPerLayer);
  EXPECT_GT(wide, 0u);  // the count is live
}

// The engine's device copy of a layer's weights is found by the weights' stamp
// (weights_cache.hpp): unchanged weights are uploaded once, and a copy of them, a set() and a write
// through mutable_int8_data() each make the next use upload them again (and prove with the new
// weights). Each upload is one host sync (transfers.hpp), so the count shows them.
TEST(ThrustEngine, WeightsAreUploadedOncePerContents) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  using K = M61::K;
  auto rng = make_rng(71);
  auto engine = make_thrust_omp_engine<M61>();
  auto ref = make_reference_engine<M61>();
  QuantizedModel m = testing::random_model({300, 520}, rng, 127, 1000);
  ASSERT_NE(m.layers[0].weights.int8_data(), nullptr);
  std::vector<K> eq_q(padded(520));
  for (auto& x : eq_q) x = random_element<K>(rng);
  // row_combine's host syncs with these weights, its result checked against the reference engine.
  const auto syncs = [&](const QuantizedModel& model) {
    const auto layers = field_layers<M61::F>(model);
    const std::size_t before = engine->host_syncs();
    const auto a = engine->row_combine(layers[0], eq_q);
    const std::size_t n = engine->host_syncs() - before;
    EXPECT_EQ(ref->row_combine(layers[0], eq_q), a);
    return n;
  };
  const std::size_t first = syncs(m), cached = syncs(m);
  EXPECT_EQ(first, cached + 1) << "unchanged weights were uploaded again, or the first use uploaded nothing";
  EXPECT_EQ(syncs(m), cached);

  const QuantizedModel copy = m;
  EXPECT_EQ(syncs(copy), first) << "a copy";
  EXPECT_EQ(syncs(copy), cached);

  WeightMatrix& w = m.layers[0].weights;
  w.set(7, w[7] == 3 ? 4 : 3);
  ASSERT_NE(w.int8_data(), nullptr);
  EXPECT_EQ(syncs(m), first) << "set()";
  EXPECT_EQ(syncs(m), cached);

  std::int8_t* p = w.mutable_int8_data();
  p[520 * 299] = static_cast<std::int8_t>(p[520 * 299] == 5 ? 6 : 5);
  EXPECT_EQ(syncs(m), first) << "a write through mutable_int8_data()";
  EXPECT_EQ(syncs(m), cached);
  EXPECT_EQ(syncs(copy), cached) << "the copy's entry is still cached and still its own";
}

// A stamp names one matrix's contents: copies and changes get new ones, a move keeps it.
TEST(WeightMatrix, StampsNameContents) {
  WeightMatrix a{1, -2, 3};
  const std::uint64_t s = a.stamp();
  EXPECT_NE(s, 0u);
  EXPECT_EQ(a.stamp(), s) << "reading changes nothing";
  static_cast<void>(a.int8_data());
  EXPECT_EQ(a.stamp(), s);
  WeightMatrix b = a;
  EXPECT_NE(b.stamp(), s);
  WeightMatrix c = std::move(a);
  EXPECT_EQ(c.stamp(), s) << "a move keeps the contents and their stamp";
  EXPECT_NE(a.stamp(), s);  // NOLINT(bugprone-use-after-move): the moved-from matrix's stamp is new
  b = c;
  EXPECT_NE(b.stamp(), s);
  const std::uint64_t before_set = c.stamp();
  c.set(0, 1);  // the same value: still a mutation through a member
  EXPECT_NE(c.stamp(), before_set);
  const std::uint64_t before_write = c.stamp();
  static_cast<void>(c.mutable_int8_data());
  EXPECT_NE(c.stamp(), before_write);
}

TEST(LimbPlan, RespectsTheDoublePrecisionBound) {
  // (2^c - 1) * rowsum <= 2^53 must hold, and c must be the largest such width.
  for (std::uint64_t rowsum : {1ull, 127ull, 254000ull, 1ull << 30, (1ull << 45) - 1}) {
    LimbPlan p = plan_limbs(rowsum, 61);
    ASSERT_GT(p.limb_bits, 0u) << rowsum;
    EXPECT_LE(((u128{1} << p.limb_bits) - 1) * rowsum, u128{1} << 53);
    if (p.limb_bits < 52) {
      EXPECT_GT(((u128{1} << (p.limb_bits + 1)) - 1) * rowsum, u128{1} << 53);
    }
    EXPECT_GE(p.limb_bits * p.limbs, 61u);
  }
  EXPECT_EQ(plan_limbs(254000, 61).limbs, 2u);          // the TIMIT shape with int8 weights: two DGEMMs
  EXPECT_EQ(plan_limbs(1ull << 50, 61).limb_bits, 0u);  // too wide: the direct kernel
}

// The cases above include the cuda engine where a device exists; this one says whether it ran.
TEST(CudaEngine, CrossEngineCasesNeedADevice) {
  DeviceInfo dev = query_cuda_devices();
  const bool required = std::getenv("NNPROOF_REQUIRE_GPU") != nullptr;  // scripts/test --gpu
  if (!thrust_engines_built()) {
    if (required) FAIL() << "scripts/test --gpu: this build has no CUDA engine (no nvcc at build time)";
    GTEST_SKIP() << "built without CUDA";
  }
  if (dev.count == 0) {
    if (required) FAIL() << "scripts/test --gpu: no CUDA device: " << dev.why_none;
    GTEST_SKIP() << "no CUDA device: " << dev.why_none;
  }
  auto cuda = make_cuda_engine<M61>();
  EXPECT_EQ(cuda->name(), "cuda");
}

// The cuda engine loads cuBLAS on first use instead of linking it (kernels/thrust/cublas_library.hpp):
// nothing has loaded it when a process starts, and in a CUDA build the library and every entry
// point the engine calls resolve, with or without a device. The check needs a fresh process: ctest
// runs each case in one, but the GPU bundle runs whole suites in one process, where earlier cases
// have loaded cuBLAS. So the test runs its probe in a fresh copy of this binary.
bool cublas_is_loaded() {
  bool found = false;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        if (info->dlpi_name && std::string(info->dlpi_name).find("libcublas") != std::string::npos)
          *static_cast<bool*>(out) = true;
        return 0;
      },
      &found);
  return found;
}

TEST(CudaEngine, CublasProbeInAFreshProcess) {
  if (std::getenv("NNPROOF_CUBLAS_PROBE") == nullptr) GTEST_SKIP() << "run by CublasIsLoadedOnlyWhenTheEngineNeedsIt";
  ASSERT_FALSE(cublas_is_loaded()) << "cuBLAS is linked into the binary: every nnproof start pays for it";
  if (!thrust_engines_built()) return;
  EXPECT_EQ(cublas_load_error(), "");
  EXPECT_TRUE(cublas_is_loaded());
}

TEST(CudaEngine, CublasIsLoadedOnlyWhenTheEngineNeedsIt) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string probe =
      "NNPROOF_CUBLAS_PROBE=1 '" + self + "' --gtest_filter=CudaEngine.CublasProbeInAFreshProcess";
  const int status = std::system((probe + " >/dev/null 2>&1").c_str());
  EXPECT_EQ(status, 0) << "the probe failed; rerun it to see why: " << probe;
}

TEST(CudaEngine, WithoutADeviceItIsAOneLineError) {
  if (!thrust_engines_built() || engine_unavailable_reason(EngineId::cuda).empty())
    GTEST_SKIP() << "a device is present (or no CUDA build)";
  try {
    make_cuda_engine<M61>();
    ADD_FAILURE() << "no error";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nnproof

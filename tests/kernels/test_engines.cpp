// SPDX-License-Identifier: Apache-2.0
// Cross-engine: every Engine operation of the cpu engine, of the thrust-omp engine (the OpenMP
// build of the CUDA engine's source) and, where a device exists, of the cuda engine is
// bit-identical to the reference engine, including the limb-GEMM paths' edge cases (the exactness
// bounds, wide weights, the direct kernels), and so are whole proof bundles.
// This file: the operations one by one; whole proofs and sum-check rounds are in
// test_engine_proofs.cpp, the Thrust engine's costs in test_thrust_engine.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <span>
#include <tuple>
#include <vector>

#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/limb_gemm.hpp"
#include "kernels/registry.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "tests/kernels/engine_test.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

using namespace engine_test;

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

// Every engine's input table is the transpose of the sample-major input, zero in the padding
// rows and columns: shapes around the cpu engine's 8 x 8 tiles, one sample, one feature.
TYPED_TEST(EngineTest, InputTableIsTheTransposeWithZeroPadding) {
  using F = typename TypeParam::F;
  auto rng = make_rng(68);
  auto ref = make_reference_engine<TypeParam>();
  for (auto [n0, batch] : {std::pair{1, 1}, {3, 5}, {8, 8}, {9, 17}, {40, 33}, {100, 7}}) {
    std::vector<F> input(std::size_t(n0) * batch);
    for (auto& x : input) x = random_element<F>(rng);
    Table2D<F> want(padded(n0), padded(batch));
    for (int j = 0; j < n0; ++j)
      for (int k = 0; k < batch; ++k) want.at(j, k) = input[std::size_t(k) * n0 + j];
    ASSERT_EQ(ref->input_table(input, n0, batch).data, want.data) << "reference " << n0 << " x " << batch;
    for (const auto& engine : engines_under_test<TypeParam>()) {
      Table2D<F> x = engine->input_table(input, n0, batch);
      engine->to_host(x);
      EXPECT_EQ(x.data, want.data) << engine->name() << " " << n0 << " x " << batch;
    }
  }
}

// With a layout's rows (the proof's image layout: feature j in row map[j] of a table of rows_n0
// rows), every engine's input table is the transpose of the scattered input, zero in the rows no
// feature maps to: a random injective map, rows_n0 past the features, both within and past 8 x 8 tiles.
TYPED_TEST(EngineTest, InputTableScattersIntoTheLayoutsRows) {
  using F = typename TypeParam::F;
  auto rng = make_rng(69);
  auto ref = make_reference_engine<TypeParam>();
  for (auto [n0, rows_n0, batch] : {std::tuple{1, 2, 1}, {3, 4, 5}, {9, 16, 17}, {40, 64, 33}, {30, 100, 7}}) {
    std::vector<F> input(std::size_t(n0) * batch);
    for (auto& x : input) x = random_element<F>(rng);
    std::vector<std::size_t> rows(static_cast<std::size_t>(rows_n0));
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(static_cast<std::size_t>(n0));
    Table2D<F> want(padded(rows_n0), padded(batch));
    for (int j = 0; j < n0; ++j)
      for (int k = 0; k < batch; ++k) want.at(rows[j], k) = input[std::size_t(k) * n0 + j];
    const std::span<const std::size_t> map(rows);
    ASSERT_EQ(ref->input_table(input, n0, batch, map, rows_n0).data, want.data) << "reference " << n0;
    for (const auto& engine : engines_under_test<TypeParam>()) {
      Table2D<F> x = engine->input_table(input, n0, batch, map, rows_n0);
      engine->to_host(x);
      EXPECT_EQ(x.data, want.data) << engine->name() << " " << n0 << " features in " << rows_n0 << " rows";
    }
  }
}

// One engine, several inputs in turn: the same layout twice, another of the same size, none, a
// larger one, the first again. The Thrust engines keep the last layout's map on the device
// (device_layout_map): each table must follow its own map, never the one kept from before.
TYPED_TEST(EngineTest, InputTableFollowsEachCallsLayout) {
  using F = typename TypeParam::F;
  auto rng = make_rng(70);
  auto ref = make_reference_engine<TypeParam>();
  const auto layout = [&](std::size_t n0, std::size_t rows_n0) {
    std::vector<std::size_t> rows(rows_n0);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(n0);
    return rows;
  };
  const std::vector<std::size_t> a = layout(9, 16), b = layout(9, 16), none, wide = layout(40, 64);
  ASSERT_NE(a, b);
  for (const auto& engine : engines_under_test<TypeParam>())
    for (const auto* rows : {&a, &a, &b, &none, &wide, &a}) {
      const std::size_t n0 = rows->empty() ? 12 : rows->size(), batch = 5;
      const std::size_t rows_n0 = rows->empty() ? 0 : rows == &wide ? 64 : 16;
      std::vector<F> input(n0 * batch);
      for (auto& x : input) x = random_element<F>(rng);
      const std::span<const std::size_t> map(*rows);
      const Table2D<F> want = ref->input_table(input, n0, batch, map, rows_n0);
      Table2D<F> x = engine->input_table(input, n0, batch, map, rows_n0);
      engine->to_host(x);
      EXPECT_EQ(x.data, want.data) << engine->name() << " " << n0 << " features in " << rows_n0 << " rows";
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
  // The 20 rounds of a Fiat-Shamir transcript driven from the host (h(0), h(2) each; the reference
  // adds h(3)), each fold but the last fused with the next round, as the prover runs them.
  const auto drive = [](SumcheckProver<K>& sc) {
    Transcript t(TypeParam::kId, 0);
    std::vector<K> messages;
    for (unsigned round = 0; round < 20; ++round) {
      const auto h = round == 0 ? sc.round() : sc.fold_and_round(t.challenge<K>());
      messages.insert(messages.end(), h.begin(), h.begin() + 2);
      t.absorb_elements<K>("message", std::span<const K>(h.data(), 2));
    }
    sc.fold(t.challenge<K>());
    return messages;
  };
  auto want_sc = ref->product_sumcheck(A, V);
  const std::vector<K> want_messages = drive(*want_sc);
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
    // Every round driven from the host, as the cpu engine runs them (its folds in chunks).
    auto host_sc = engine->product_sumcheck(A, V);
    EXPECT_EQ(drive(*host_sc), want_messages);
    EXPECT_EQ(host_sc->final_value(), want_sc->final_value());
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

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// Cross-engine: Engine's training operations (transpose_product, double_hadamard,
// batch_outer_product, batch_row_sums, row_weighted_sum, structured_gradients) of every engine that runs here are
// bit-identical to the reference engine's portable loops, on random tables of full field
// elements: the cpu engine's W^T D through each of its forward routes (int8 limbs, DGEMM limbs,
// the direct kernel), its tiled outer products across tile and slice edges, and the largest sums.
// The suite's name starts with EngineTest so that the capped-ISA runs (tests/CMakeLists.txt) run
// it too.
#include <gtest/gtest.h>

#include "kernels/reference/reference_engine.hpp"
#include "kernels/registry.hpp"
#include "tests/kernels/engine_test.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/training/parameters.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::random_element;

template <class Cfg>
class EngineTestBackward : public ::testing::Test {};
TYPED_TEST_SUITE(EngineTestBackward, engine_test::Configs);

using testing::engines_under_test;
// Random entries in the real corner, zero elsewhere (as the backward pass's tables are).
using engine_test::random_table;

TYPED_TEST(EngineTestBackward, OperationsAreBitIdentical) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = make_rng(180);
  auto ref = make_reference_engine<TypeParam>();
  const auto engines = engines_under_test<TypeParam>();
  // Shapes across the cpu engine's outer-product tiles (32 x 64 rows, slices of 256 columns) and
  // its register blocks (odd counts leave single rows).
  for (auto [rows, cols, batch] : {std::tuple{1, 1, 1}, {7, 9, 5}, {33, 17, 64}, {70, 131, 300}, {3, 65, 257}}) {
    // Weight ranges: int8 (limb GEMM), wide (fewer bits per limb), huge (the direct kernel).
    for (std::int64_t wmax : {std::int64_t{127}, std::int64_t{1} << 20, std::int64_t{1} << 40}) {
      SCOPED_TRACE(::testing::Message() << rows << " x " << cols << " batch " << batch << " wmax " << wmax);
      auto model = testing::random_model({std::size_t(cols), std::size_t(rows)}, rng, wmax, 3);
      const auto layers = field_layers<F>(model);
      const auto D = random_table<F>(rows, batch, rng), Y = random_table<F>(cols, batch, rng);
      const auto Z = random_table<F>(cols, batch, rng), E = random_table<F>(cols, batch, rng);
      std::vector<K> eq(D.rows);
      for (auto& x : eq) x = rng() % 4 == 0 ? K::zero() : random_element<K>(rng);
      const auto Er = ref->transpose_product(layers[0], D);
      const auto Hr = ref->double_hadamard(Z, E);
      const auto Gr = ref->batch_outer_product(D, Y, rows, cols);
      const auto gr = ref->batch_row_sums(D, rows);
      const auto Pr = ref->row_weighted_sum(D, std::span<const K>(eq));
      for (const auto& engine : engines) {
        SCOPED_TRACE(engine->name());
        auto Ee = engine->transpose_product(layers[0], D);
        engine->to_host(Ee);
        EXPECT_EQ(Ee.rows, Er.rows);
        EXPECT_EQ(Ee.cols, Er.cols);
        EXPECT_EQ(Ee.data, Er.data) << "transpose_product";
        auto He = engine->double_hadamard(Z, E);
        engine->to_host(He);
        EXPECT_EQ(He.data, Hr.data) << "double_hadamard";
        EXPECT_EQ(engine->batch_outer_product(D, Y, rows, cols), Gr) << "batch_outer_product";
        EXPECT_EQ(engine->batch_row_sums(D, rows), gr) << "batch_row_sums";
        EXPECT_EQ(engine->row_weighted_sum(D, std::span<const K>(eq)), Pr) << "row_weighted_sum";
      }
    }
  }
}

// Structured layers (random chains of convolutions, sum pools and dense maps): transpose_product
// and structured_gradients of every engine equal the reference's on full field elements, and
// the gradient has one entry per trained weight.
TYPED_TEST(EngineTestBackward, StructuredOperationsAreBitIdentical) {
  using F = typename TypeParam::F;
  auto rng = make_rng(1823);
  auto ref = make_reference_engine<TypeParam>();
  const auto engines = engines_under_test<TypeParam>();
  for (int c = 0; c < 12; ++c) {
    const QuantizedModel m = testing::random_cnn(rng, 1);
    const std::size_t batch = testing::pick(rng, 1, 40);
    SCOPED_TRACE(::testing::Message() << "case " << c << ", batch " << batch);
    const auto layers = field_layers<F>(m);
    const auto D = random_table<F>(m.layers[0].rows, batch, rng), Y = random_table<F>(m.layers[0].cols, batch, rng);
    const auto Er = ref->transpose_product(layers[0], D);
    const auto Gr = ref->structured_gradients(layers[0], D, Y);
    EXPECT_EQ(Gr.size(), layer_parameters(m.layers[0]));
    for (const auto& engine : engines) {
      SCOPED_TRACE(engine->name());
      auto Ee = engine->transpose_product(layers[0], D);
      engine->to_host(Ee);
      EXPECT_EQ(Ee.rows, Er.rows);
      EXPECT_EQ(Ee.cols, Er.cols);
      EXPECT_EQ(Ee.data, Er.data) << "transpose_product";
      EXPECT_EQ(engine->structured_gradients(layers[0], D, Y), Gr) << "structured_gradients";
    }
  }
}

// Every entry at p - 1, 300 columns: the largest products and the longest unreduced sums (m61's
// 32-product chunks, m127's carry counts). (p - 1)^2 = 1, so each sum is the column count.
TYPED_TEST(EngineTestBackward, LargestEntriesSumExactly) {
  using F = typename TypeParam::F;
  const F top = F::zero() - F::one();
  Table2D<F> D(padded(37), padded(300)), Y(padded(70), padded(300));
  for (std::size_t a = 0; a < 37; ++a)
    for (std::size_t k = 0; k < 300; ++k) D.at(a, k) = top;
  for (std::size_t j = 0; j < 70; ++j)
    for (std::size_t k = 0; k < 300; ++k) Y.at(j, k) = top;
  const std::vector<F> expected(37 * 70, F::from_int(300));
  for (const auto& engine : engines_under_test<TypeParam>())
    EXPECT_EQ(engine->batch_outer_product(D, Y, 37, 70), expected) << engine->name();
}

// Columns of D past its last nonzero one (the cpu engine skips them) and an all-zero D.
TYPED_TEST(EngineTestBackward, TrailingZeroColumns) {
  using F = typename TypeParam::F;
  auto rng = make_rng(181);
  auto ref = make_reference_engine<TypeParam>();
  auto model = testing::random_model({20, 9}, rng, 127, 3);
  const auto layers = field_layers<F>(model);
  auto D = random_table<F>(9, 100, rng);
  const auto Y = random_table<F>(20, 100, rng);
  for (std::size_t a = 0; a < 9; ++a)
    for (std::size_t k = 61; k < 100; ++k) D.at(a, k) = F::zero();
  D.at(4, 60) = F::zero();  // one row ends earlier than the others
  for (int round = 0; round < 2; ++round) {
    for (const auto& engine : engines_under_test<TypeParam>()) {
      auto Ee = engine->transpose_product(layers[0], D);
      engine->to_host(Ee);
      EXPECT_EQ(Ee.data, ref->transpose_product(layers[0], D).data) << engine->name() << " round " << round;
      EXPECT_EQ(engine->batch_outer_product(D, Y, 9, 20), ref->batch_outer_product(D, Y, 9, 20))
          << engine->name() << " round " << round;
    }
    std::fill(D.data.begin(), D.data.end(), F::zero());
  }
}

}  // namespace
}  // namespace nnproof

// W~(q, s) by the verifier's fast paths (int8 chunk dots, 128-bit sums, limbs) equals the
// definition sum_{a,j} eq(q,a) eq(s,j) W[a][j] for every storage width (int8 .. int64), including
// weights too wide for the fast paths.
#include <gtest/gtest.h>

#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

template <class K>
class WeightMleTest : public ::testing::Test {};
using ChallengeFields = ::testing::Types<Fp61x2, Fp127, Fp61>;
TYPED_TEST_SUITE(WeightMleTest, ChallengeFields);

TYPED_TEST(WeightMleTest, MatchesTheDefinitionForEveryWidth) {
  using K = TypeParam;
  using F = base_field_t<K>;
  auto rng = testing::make_rng(80);
  // 2100 columns: int8 rows longer than one of the chunked dot's 2048-term blocks.
  for (auto [wmax, cols] : {std::pair{std::int64_t{100}, 37}, {std::int64_t{127}, 2100}, {std::int64_t{30000}, 37},
                            {std::int64_t{1} << 30, 37}, {std::int64_t{1} << 62, 37}}) {
    const std::size_t rows = cols > 100 ? 3 : 11;
    auto model = testing::random_model({std::size_t(cols), rows}, rng, wmax, 1);
    auto& layer = model.layers[0];
    if (wmax == 127) layer.weights.set(0, -128);  // the int8 extremes: stored as int8
    std::vector<K> q(ceil_log2(rows)), s(ceil_log2(std::size_t(cols)));
    for (auto& x : q) x = testing::random_element<K>(rng);
    for (auto& x : s) x = testing::random_element<K>(rng);
    K want = K::zero();
    for (std::size_t a = 0; a < layer.rows; ++a)
      for (std::size_t j = 0; j < layer.cols; ++j)
        want += eq_at_index<K>(q, a) * eq_at_index<K>(s, j) * K::from_base(F::from_int(layer.weights[a * layer.cols + j]));
    EXPECT_EQ(weight_mle<K>(layer, eq_table<K>(q), eq_table<K>(s)), want) << "wmax " << wmax;
  }
}

}  // namespace
}  // namespace nnproof

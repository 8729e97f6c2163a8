// W~(q, s) by the verifier's fast limb path equals the definition sum_{a,j} eq(q,a) eq(s,j) W[a][j]
// for every storage width (int8 .. int64), including weights too wide for the limb path.
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
  for (std::int64_t wmax : {std::int64_t{100}, std::int64_t{30000}, std::int64_t{1} << 30, std::int64_t{1} << 62}) {
    auto model = testing::random_model({37, 11}, rng, wmax, 1);
    const auto& layer = model.layers[0];
    std::vector<K> q(ceil_log2(11)), s(ceil_log2(37));
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

// SPDX-License-Identifier: Apache-2.0
// eq tables, MLE evaluation, folding and interpolation: identities checked against direct formulas.
#include <gtest/gtest.h>

#include "core/polynomial.hpp"
#include "tests/support/random.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::random_element;

template <class K>
class PolynomialTest : public ::testing::Test {};
using ChallengeFields = ::testing::Types<Fp61x2, Fp127, Fp61>;
TYPED_TEST_SUITE(PolynomialTest, ChallengeFields);

template <class K>
std::vector<K> random_vector(std::size_t n, std::mt19937_64& rng) {
  std::vector<K> v(n);
  for (auto& x : v) x = random_element<K>(rng);
  return v;
}

TYPED_TEST(PolynomialTest, EqTableMatchesDefinitionAndSumsToOne) {
  using K = TypeParam;
  auto rng = make_rng(10);
  for (unsigned n : {0u, 1u, 2u, 5u}) {
    auto x = random_vector<K>(n, rng);
    auto t = eq_table<K>(x);
    ASSERT_EQ(t.size(), std::size_t{1} << n);
    K sum = K::zero();
    for (std::size_t i = 0; i < t.size(); ++i) {
      EXPECT_EQ(t[i], eq_at_index<K>(x, i));
      sum += t[i];
    }
    EXPECT_EQ(sum, K::one());  // sum_i eq(x, i) = 1 for any x
  }
}

TYPED_TEST(PolynomialTest, EqOfBooleanPointsIsTheIndicator) {
  using K = TypeParam;
  for (std::size_t a = 0; a < 8; ++a) {
    std::vector<K> x(3);
    for (int t = 0; t < 3; ++t) x[t] = ((a >> t) & 1) ? K::one() : K::zero();
    auto tab = eq_table<K>(x);
    for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(tab[i], i == a ? K::one() : K::zero());
  }
}

TYPED_TEST(PolynomialTest, MleAgreesOnTheHypercubeAndIsMultilinear) {
  using K = TypeParam;
  auto rng = make_rng(11);
  auto table = random_vector<K>(16, rng);
  for (std::size_t i = 0; i < 16; ++i) {
    std::vector<K> x(4);
    for (int t = 0; t < 4; ++t) x[t] = ((i >> t) & 1) ? K::one() : K::zero();
    EXPECT_EQ((mle_evaluate<K, K>(table, x)), table[i]);
  }
  // Along any one coordinate the MLE is affine: f(2) = 2 f(1) - f(0).
  auto x = random_vector<K>(4, rng);
  for (int t = 0; t < 4; ++t) {
    auto x0 = x, x1 = x, x2 = x;
    x0[t] = K::zero();
    x1[t] = K::one();
    x2[t] = K::from_int(2);
    K f0 = mle_evaluate<K, K>(table, x0), f1 = mle_evaluate<K, K>(table, x1), f2 = mle_evaluate<K, K>(table, x2);
    EXPECT_EQ(f2, f1 + f1 - f0);
  }
}

TYPED_TEST(PolynomialTest, FoldingBindsTheTopVariable) {
  using K = TypeParam;
  auto rng = make_rng(12);
  auto table = random_vector<K>(32, rng);
  auto x = random_vector<K>(5, rng);
  auto folded = table;
  for (int v = 4; v >= 0; --v) fold_top(folded, x[v]);  // top variable first
  ASSERT_EQ(folded.size(), 1u);
  EXPECT_EQ(folded[0], (mle_evaluate<K, K>(table, x)));
  EXPECT_NE(folded[0], K::zero());
}

TYPED_TEST(PolynomialTest, InterpolationRecoversCubics) {
  using K = TypeParam;
  auto rng = make_rng(13);
  auto c = random_vector<K>(4, rng);
  auto poly = [&](K x) { return c[0] + x * (c[1] + x * (c[2] + x * c[3])); };
  std::vector<K> vals;
  for (int i = 0; i <= 3; ++i) vals.push_back(poly(K::from_int(i)));
  for (int n = 0; n < 20; ++n) {
    K r = random_element<K>(rng);
    EXPECT_EQ(interpolate<K>(vals, r), poly(r));
  }
  std::vector<K> quad(vals.begin(), vals.begin() + 3);  // degree 2 through 3 nodes
  c[3] = K::zero();
  for (int i = 0; i <= 2; ++i) quad[i] = poly(K::from_int(i));
  K r = random_element<K>(rng);
  EXPECT_EQ(interpolate<K>(quad, r), poly(r));
}

TEST(Polynomial, CeilLog2) {
  EXPECT_EQ(ceil_log2(1), 0u);
  EXPECT_EQ(ceil_log2(2), 1u);
  EXPECT_EQ(ceil_log2(3), 2u);
  EXPECT_EQ(ceil_log2(1845), 11u);
  EXPECT_EQ(ceil_log2(2048), 11u);
  EXPECT_EQ(ceil_log2(2049), 12u);
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// Each sum-check alone, on both engines: honest runs end in a claim equal to g at the random point
// (computed here independently from MLEs), and changing any single message makes the final check fail.
#include <gtest/gtest.h>

#include "core/polynomial.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::random_element;

template <class Cfg>
std::unique_ptr<Engine<Cfg>> engine_named(const std::string& name) {
  return name == "cpu" ? make_cpu_engine<Cfg>() : make_reference_engine<Cfg>();
}

// Runs a prover through n rounds against a Fiat-Shamir channel, returning its messages and final value.
template <class K>
std::vector<K> prove_rounds(SumcheckProver<K>& sc, unsigned n, unsigned degree, Transcript t, K& final_value) {
  FiatShamirProverChannel<K> ch(t);
  for (unsigned i = 0; i < n; ++i) {
    auto h = sc.round();
    ch.send(std::span<const K>(h.data(), degree));
    sc.fold(ch.challenge());
  }
  final_value = sc.final_value();
  return ch.messages();
}

template <class K>
K verify_rounds(const std::vector<K>& messages, K claim, unsigned n, unsigned degree, Transcript t,
                std::vector<K>& point) {
  FiatShamirVerifierChannel<K> ch(t, messages);
  return sumcheck_verifier(ch, claim, n, degree, point);
}

template <class Cfg>
class SumcheckTest : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127, M61Interactive>;
TYPED_TEST_SUITE(SumcheckTest, Configs);

TYPED_TEST(SumcheckTest, ProductSumcheckHonestAndTampered) {
  using K = typename TypeParam::K;
  auto rng = make_rng(20);
  for (const char* engine : {"reference", "cpu"}) {
    for (unsigned n : {0u, 1u, 4u}) {
      std::vector<K> A(std::size_t{1} << n), V(A.size());
      for (auto& x : A) x = random_element<K>(rng);
      for (auto& x : V) x = random_element<K>(rng);
      K claim = K::zero();
      for (std::size_t i = 0; i < A.size(); ++i) claim += A[i] * V[i];
      Transcript t(TypeParam::kId, 0);
      K y_star;
      auto msgs = prove_rounds(*engine_named<TypeParam>(engine)->product_sumcheck(A, V), n, 2, t, y_star);
      ASSERT_EQ(msgs.size(), 2 * n);
      std::vector<K> s;
      K final_claim = verify_rounds(msgs, claim, n, 2, t, s);
      EXPECT_EQ(y_star, (mle_evaluate<K, K>(V, s))) << engine;
      EXPECT_EQ(final_claim, (mle_evaluate<K, K>(A, s)) * y_star) << engine;
      EXPECT_NE(final_claim, K::zero());
      for (std::size_t m = 0; m < msgs.size(); ++m) {
        auto bad = msgs;
        bad[m] += K::one();
        std::vector<K> s2;
        K c = verify_rounds(bad, claim, n, 2, t, s2);
        EXPECT_NE(c, (mle_evaluate<K, K>(A, s2)) * (mle_evaluate<K, K>(V, s2))) << engine << " message " << m;
      }
      // A wrong initial claim fails too.
      std::vector<K> s3;
      if (n > 0) {
        K c = verify_rounds(msgs, claim + K::one(), n, 2, t, s3);  // fills s3 before it is used
        EXPECT_NE(c, (mle_evaluate<K, K>(A, s3)) * y_star);
      }
    }
  }
}

TYPED_TEST(SumcheckTest, SquareSumcheckHonestAndTampered) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  auto rng = make_rng(21);
  for (const char* engine : {"reference", "cpu"}) {
    for (auto [rb, cb] : {std::pair{0u, 0u}, {1u, 0u}, {0u, 2u}, {3u, 2u}}) {
      Table2D<F> Z(std::size_t{1} << rb, std::size_t{1} << cb);
      for (auto& z : Z.data) z = random_element<F>(rng);
      std::vector<K> s(rb), r(cb);
      for (auto& x : s) x = random_element<K>(rng);
      for (auto& x : r) x = random_element<K>(rng);
      // claim = sum eq(s, j) eq(r, k) Z[j][k]^2 = (Z o Z)~ at the point (r low, s high).
      std::vector<K> point0(r);
      point0.insert(point0.end(), s.begin(), s.end());
      std::vector<K> Zsq(Z.data.size());
      for (std::size_t i = 0; i < Zsq.size(); ++i) Zsq[i] = K::from_base(Z.data[i] * Z.data[i]);
      const K claim = mle_evaluate<K, K>(Zsq, point0);
      const unsigned n = rb + cb;
      Transcript t(TypeParam::kId, 0);
      K z_star;
      auto msgs = prove_rounds(*engine_named<TypeParam>(engine)->square_sumcheck(Z, s, r, claim, {}), n, 3, t, z_star);
      std::vector<K> pt;
      K final_claim = verify_rounds(msgs, claim, n, 3, t, pt);
      std::span<const K> r2(pt.data(), cb), s2(pt.data() + cb, rb);
      EXPECT_EQ(z_star, (mle_evaluate<K, F>(Z.data, pt))) << engine;
      EXPECT_EQ(final_claim, eq_eval<K>(s, s2) * eq_eval<K>(r, r2) * z_star * z_star) << engine;
      for (std::size_t m = 0; m < msgs.size(); ++m) {
        auto bad = msgs;
        bad[m] += K::one();
        std::vector<K> p3;
        K c = verify_rounds(bad, claim, n, 3, t, p3);
        K z3 = mle_evaluate<K, F>(Z.data, p3);
        std::span<const K> r3(p3.data(), cb), s3(p3.data() + cb, rb);
        EXPECT_NE(c, eq_eval<K>(s, s3) * eq_eval<K>(r, r3) * z3 * z3) << engine << " message " << m;
      }
    }
  }
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// The cpu engine's Hadamard sum-check (kernels/cpu/hadamard_sumcheck.hpp) against the host's
// (host/training/table_sumcheck.hpp) over the combined eq table sum_c w_c eq(x_c, .): the same
// round messages for the same challenges, the same final Z~(x), E~(x), in every configuration,
// for one to four claims, tables of one row or one column, and the rare rounds where a claim's
// q(1) cannot come from its running sum (a zero coordinate in the row point).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "core/polynomial.hpp"
#include "host/synthetic.hpp"
#include "host/training/table_sumcheck.hpp"
#include "kernels/cpu/hadamard_sumcheck.hpp"
#include "kernels/registry.hpp"

namespace nnproof {
namespace {

template <class Cfg>
class HadamardSumcheckTest : public ::testing::Test {};
using Configs = ::testing::Types<M61, M127, M61Interactive>;
TYPED_TEST_SUITE(HadamardSumcheckTest, Configs);

template <class F>
Table2D<F> full_table(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
  Table2D<F> t(rows, cols);
  for (F& x : t.data) x = random_element<F>(rng);
  return t;
}

template <class K>
std::vector<K> random_point(unsigned n, std::mt19937_64& rng) {
  std::vector<K> x(n);
  for (K& v : x) v = random_element<K>(rng);
  return x;
}

// The host oracle's three tables: sum_c w_c eq(s_c, a) eq(r_c, k) at a * cols + k, Z and E in K.
template <class K, class F>
HostTableSumcheck<K> oracle(const Table2D<F>& Z, const Table2D<F>& E, const std::vector<EqClaim<K>>& claims) {
  std::vector<K> w(Z.data.size(), K::zero()), z(Z.data.size()), e(E.data.size());
  for (const EqClaim<K>& c : claims) {
    const std::vector<K> er = eq_table<K>(c.s), ec = eq_table<K>(c.r);
    for (std::size_t a = 0; a < Z.rows; ++a)
      for (std::size_t k = 0; k < Z.cols; ++k) w[a * Z.cols + k] += c.weight * er[a] * ec[k];
  }
  for (std::size_t i = 0; i < z.size(); ++i) {
    z[i] = K::from_base(Z.data[i]);
    e[i] = K::from_base(E.data[i]);
  }
  return HostTableSumcheck<K>({std::move(w), std::move(z), std::move(e)});
}

// claim c's sum: sum_y eq((s, r), y) Z(y) E(y), from the tables directly.
template <class K, class F>
K claim_sum(const Table2D<F>& Z, const Table2D<F>& E, const std::vector<K>& s, const std::vector<K>& r) {
  const std::vector<K> er = eq_table<K>(s), ec = eq_table<K>(r);
  K acc = K::zero();
  for (std::size_t a = 0; a < Z.rows; ++a)
    for (std::size_t k = 0; k < Z.cols; ++k) acc += er[a] * ec[k] * K::from_base(Z.at(a, k) * E.at(a, k));
  return acc;
}

// Runs both provers with the same challenges; every message and both final values must agree.
template <class Cfg>
void expect_same_as_host(std::size_t rows, std::size_t cols, std::size_t m, std::uint64_t seed,
                         bool zero_row_coordinate = false) {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  std::mt19937_64 rng(seed);
  const Table2D<F> Z = full_table<F>(rows, cols, rng), E = full_table<F>(rows, cols, rng);
  std::vector<EqClaim<K>> claims;
  for (std::size_t c = 0; c < m; ++c) {
    EqClaim<K> claim{random_point<K>(ceil_log2(rows), rng), random_point<K>(ceil_log2(cols), rng),
                     random_element<K>(rng), K::zero()};
    if (zero_row_coordinate && !claim.s.empty()) claim.s[claim.s.size() / 2] = K::zero();
    claim.sum = claim_sum(Z, E, claim.s, claim.r);
    claims.push_back(std::move(claim));
  }
  std::unique_ptr<HadamardSumcheckProver<K>> fast = make_cpu_hadamard_sumcheck<Cfg>(Z, E, claims);
  ASSERT_NE(fast, nullptr);
  HostTableSumcheck<K> host = oracle(Z, E, claims);
  const unsigned n = ceil_log2(rows) + ceil_log2(cols);
  SCOPED_TRACE(::testing::Message() << rows << " x " << cols << ", " << m << " claims");
  for (unsigned i = 0; i < n; ++i) {
    std::array<K, 3> a, b;
    if (i == 0) {
      a = fast->round();
      b = host.round();
    } else {
      const K r = random_element<K>(rng);
      a = fast->fold_and_round(r);
      b = host.fold_and_round(r);
    }
    ASSERT_EQ(a, b) << "round " << i;
  }
  const K r = random_element<K>(rng);
  if (n > 0) {
    fast->fold(r);
    host.fold(r);
  }
  const std::array<K, 2> ze = fast->operand_values();
  EXPECT_EQ(ze[0], host.value(1));
  EXPECT_EQ(ze[1], host.value(2));
}

TYPED_TEST(HadamardSumcheckTest, MessagesAndFinalsEqualTheHostSumcheck) {
  std::uint64_t seed = 1;
  for (std::size_t m = 1; m <= 4; ++m)
    for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{16, 8}, {2, 4}, {4, 2}, {64, 32}, {8, 64}})
      expect_same_as_host<TypeParam>(rows, cols, m, seed++);
}

TYPED_TEST(HadamardSumcheckTest, OneRowOneColumnAndOneEntry) {
  std::uint64_t seed = 100;
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{1, 16}, {32, 1}, {1, 1}, {2, 1}, {1, 2}})
    expect_same_as_host<TypeParam>(rows, cols, 2, seed++);
}

// A zero coordinate in a row point makes that round's eq(s_v, 1) zero: q(1) comes from the tables.
TYPED_TEST(HadamardSumcheckTest, ZeroRowCoordinateTakesTheDirectQ1) {
  expect_same_as_host<TypeParam>(32, 16, 1, 200, true);
  expect_same_as_host<TypeParam>(32, 16, 3, 201, true);
}

// Outside what the kernel takes, the engine answers nullptr (the prover runs the host's).
TYPED_TEST(HadamardSumcheckTest, RefusesWhatItDoesNotTake) {
  using F = typename TypeParam::F;
  using K = typename TypeParam::K;
  std::mt19937_64 rng(300);
  const Table2D<F> Z = full_table<F>(8, 4, rng), E = full_table<F>(8, 4, rng), odd = full_table<F>(6, 4, rng);
  const EqClaim<K> c{random_point<K>(3, rng), random_point<K>(2, rng), K::one(), K::zero()};
  EXPECT_EQ(make_cpu_hadamard_sumcheck<TypeParam>(Z, E, std::vector<EqClaim<K>>(5, c)), nullptr);
  EXPECT_EQ(make_cpu_hadamard_sumcheck<TypeParam>(Z, E, {}), nullptr);
  EXPECT_EQ(make_cpu_hadamard_sumcheck<TypeParam>(odd, odd, {c}), nullptr);
  EXPECT_EQ(make_cpu_hadamard_sumcheck<TypeParam>(Z, odd, {c}), nullptr);
  EqClaim<K> short_point = c;
  short_point.s.pop_back();
  EXPECT_EQ(make_cpu_hadamard_sumcheck<TypeParam>(Z, E, {short_point}), nullptr);
  EXPECT_NE(make_cpu_hadamard_sumcheck<TypeParam>(Z, E, {c}), nullptr);
  // Through the registry: the cpu engine has it, the reference engine leaves it to the host.
  EXPECT_NE(make_engine<TypeParam>("cpu")->hadamard_sumcheck(Z, E, {c}), nullptr);
  EXPECT_EQ(make_engine<TypeParam>("reference")->hadamard_sumcheck(Z, E, {c}), nullptr);
}

}  // namespace
}  // namespace nnproof

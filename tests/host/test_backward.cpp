// SPDX-License-Identifier: Apache-2.0
// The exact backward pass (host/training/backward.hpp, TRAINING.md section 2) on every engine and
// both fields against an independent computation over the integers: one sample at a time, with
// __int128 and the chain rule written out, no tables, no field. The cases are small enough that
// the training magnitude bound holds in m127 (so __int128 cannot overflow either: every value and
// partial sum is within the bound); in m61 a case runs where the bound says it may.
#include <gtest/gtest.h>

#include "host/training/backward.hpp"
#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/training/magnitude.hpp"

namespace nnproof {
namespace {

using testing::make_rng;

struct IntegerGradients {
  i128 loss = 0;
  std::vector<std::vector<i128>> G, g;  // per layer: n_i x n_{i-1} row-major, n_i
  std::vector<i128> outputs;            // N x n_L
};

IntegerGradients integer_backward(const QuantizedModel& m, const std::vector<std::int64_t>& x,
                                  const std::vector<std::int64_t>& labels, std::int64_t s) {
  const std::size_t L = m.depth(), N = labels.size();
  IntegerGradients out;
  for (const auto& l : m.layers) {
    out.G.emplace_back(l.rows * l.cols, 0);
    out.g.emplace_back(l.rows, 0);
  }
  for (std::size_t k = 0; k < N; ++k) {
    // Forward, keeping each layer's input Y_{i-1} and pre-activation Z_i.
    std::vector<std::vector<i128>> Y(L), Z(L);
    std::vector<i128> y(x.begin() + static_cast<std::ptrdiff_t>(k * m.in_dim()),
                        x.begin() + static_cast<std::ptrdiff_t>((k + 1) * m.in_dim()));
    for (std::size_t i = 0; i < L; ++i) {
      const auto& l = m.layers[i];
      Y[i] = y;
      std::vector<i128> z(l.rows);
      for (std::size_t a = 0; a < l.rows; ++a) {
        z[a] = l.bias[a];
        for (std::size_t j = 0; j < l.cols; ++j) z[a] += i128{l.weights[a * l.cols + j]} * y[j];
      }
      Z[i] = z;
      y = z;
      if (i + 1 < L)
        for (auto& v : y) v = v * v;
    }
    // dL/dZ_L = 2 (Z_L - t), t one-hot at s.
    std::vector<i128> d(m.out_dim());
    for (std::size_t o = 0; o < m.out_dim(); ++o) {
      const i128 err = Z[L - 1][o] - (static_cast<std::size_t>(labels[k]) == o ? s : 0);
      out.loss += err * err;
      d[o] = 2 * err;
      out.outputs.push_back(Z[L - 1][o]);
    }
    for (std::size_t i = L; i >= 1; --i) {
      const auto& l = m.layers[i - 1];
      for (std::size_t a = 0; a < l.rows; ++a) {
        out.g[i - 1][a] += d[a];
        for (std::size_t j = 0; j < l.cols; ++j) out.G[i - 1][a * l.cols + j] += d[a] * Y[i - 1][j];
      }
      if (i == 1) break;
      // dL/dY_{i-1} = W_i^T d, then dL/dZ_{i-1} = 2 Z_{i-1} o dL/dY_{i-1}.
      std::vector<i128> e(l.cols, 0);
      for (std::size_t a = 0; a < l.rows; ++a)
        for (std::size_t j = 0; j < l.cols; ++j) e[j] += i128{l.weights[a * l.cols + j]} * d[a];
      d.assign(l.cols, 0);
      for (std::size_t j = 0; j < l.cols; ++j) d[j] = 2 * Z[i - 2][j] * e[j];
    }
  }
  return out;
}

struct Case {
  std::vector<std::size_t> dims;
  std::size_t batch;
};

// 1 to 4 layers, odd sizes, batches 1 to 300, with edge cases first.
std::vector<Case> cases(std::mt19937_64& rng) {
  std::vector<Case> out = {{{1, 1}, 1}, {{3, 5}, 300}, {{7, 6, 3}, 1}, {{6, 5, 9, 2}, 33}, {{3, 2, 5, 3, 4}, 5}};
  for (int c = 0; c < 8; ++c) {
    Case k;
    k.dims.resize(testing::pick(rng, 1, 4) + 1);
    for (auto& d : k.dims) d = testing::pick(rng, 1, 9);
    k.batch = testing::pick(rng, 1, 300);
    out.push_back(k);
  }
  return out;
}

template <class Cfg>
class Backward : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(Backward, FileConfigs);

TYPED_TEST(Backward, EveryEngineMatchesTheIntegers) {
  using F = typename TypeParam::F;
  auto rng = make_rng(181);
  std::size_t ran = 0;
  for (const Case& c : cases(rng)) {
    SCOPED_TRACE(::testing::Message() << c.dims.size() - 1 << " layers, n_0 " << c.dims[0] << ", batch " << c.batch);
    // Deeper networks square larger values: smaller weights and inputs keep m127's bound.
    const std::int64_t wmax = c.dims.size() <= 3 ? 3 : 1, xmax = c.dims.size() <= 3 ? 2 : 1;
    const QuantizedModel m = testing::random_model(c.dims, rng, wmax, 2);
    const std::vector<std::int64_t> x = random_ints(rng, c.batch * m.in_dim(), xmax);
    std::vector<std::int64_t> labels(c.batch);
    for (auto& y : labels) y = static_cast<std::int64_t>(testing::pick(rng, 0, m.out_dim() - 1));
    const std::int64_t s = static_cast<std::int64_t>(testing::pick(rng, 1, 4));
    const auto profile = magnitude_profile(m);
    ASSERT_FALSE(training_magnitude_violation(profile, m, static_cast<u128>(xmax), c.batch, s, FieldId::m127));
    if (training_magnitude_violation(profile, m, static_cast<u128>(xmax), c.batch, s, TypeParam::kId)) continue;
    ++ran;
    const IntegerGradients expected = integer_backward(m, x, labels, s);
    std::vector<F> input;
    for (auto v : x) input.push_back(F::from_int(v));
    const auto layers = field_layers<F>(m);
    for (std::string_view name : runnable_engines()) {
      SCOPED_TRACE(name);
      auto engine = make_engine<TypeParam>(name);
      auto trace = run_backward(*engine, layers, input, labels, F::from_int(s));
      const auto claims = gradient_claims(*engine, layers, trace);
      EXPECT_EQ(i128{claims.loss.centered()}, expected.loss);
      ASSERT_EQ(claims.weight_gradients.size(), m.depth());
      ASSERT_EQ(claims.bias_gradients.size(), m.depth());
      for (std::size_t i = 0; i < m.depth(); ++i) {
        ASSERT_EQ(claims.weight_gradients[i].size(), expected.G[i].size());
        for (std::size_t t = 0; t < expected.G[i].size(); ++t)
          ASSERT_EQ(i128{claims.weight_gradients[i][t].centered()}, expected.G[i][t])
              << "G_" << i + 1 << "[" << t << "]";
        ASSERT_EQ(claims.bias_gradients[i].size(), expected.g[i].size());
        for (std::size_t t = 0; t < expected.g[i].size(); ++t)
          ASSERT_EQ(i128{claims.bias_gradients[i][t].centered()}, expected.g[i][t]) << "g_" << i + 1 << "[" << t << "]";
      }
      ASSERT_EQ(claims.outputs.size(), expected.outputs.size());
      for (std::size_t t = 0; t < expected.outputs.size(); ++t)
        ASSERT_EQ(i128{claims.outputs[t].centered()}, expected.outputs[t]) << "output " << t;
    }
  }
  // Not trivially skipped: m127 runs every case, m61 the shallower ones.
  EXPECT_GE(ran, TypeParam::kId == FieldId::m127 ? 13u : 5u);
}

// The gradients are not trivially zero: one layer, one sample, by hand. W = [2, -1], B = [1],
// x = (3, 4), label 0, s = 5: Z = 2*3 - 4 + 1 = 3, L = (3 - 5)^2 = 4, D = -4, G = (-12, -16), g = -4.
TYPED_TEST(Backward, OneLayerByHand) {
  using F = typename TypeParam::F;
  QuantizedModel m;
  m.layers.push_back({1, 2, {2, -1}, {1}, {}, {}});
  const auto layers = field_layers<F>(m);
  auto engine = make_engine<TypeParam>("cpu");
  auto trace = run_backward(*engine, layers, {F::from_int(3), F::from_int(4)}, {0}, F::from_int(5));
  const auto claims = gradient_claims(*engine, layers, trace);
  EXPECT_EQ(claims.loss, F::from_int(4));
  EXPECT_EQ(claims.weight_gradients[0], (std::vector<F>{F::from_int(-12), F::from_int(-16)}));
  EXPECT_EQ(claims.bias_gradients[0], std::vector<F>{F::from_int(-4)});
  EXPECT_EQ(claims.outputs, std::vector<F>{F::from_int(3)});
}

TEST(Backward, TargetTableIsOneHotAtTheScale) {
  const auto T = target_table<Fp61>({2, 0, 2}, 3, Fp61::from_int(7));
  EXPECT_EQ(T.rows, 4u);
  EXPECT_EQ(T.cols, 4u);
  for (std::size_t o = 0; o < 4; ++o)
    for (std::size_t k = 0; k < 4; ++k) {
      const bool hot = (k == 0 && o == 2) || (k == 1 && o == 0) || (k == 2 && o == 2);
      EXPECT_EQ(T.at(o, k), hot ? Fp61::from_int(7) : Fp61::zero()) << o << ", " << k;
    }
  EXPECT_THROW(target_table<Fp61>({3}, 3, Fp61::one()), std::invalid_argument);
  EXPECT_THROW(target_table<Fp61>({-1}, 3, Fp61::one()), std::invalid_argument);
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
// The exact backward pass through structured layers (convolutions, sum pools, chains; TRAINING.md
// section 2, kernels/engine/structured_backward.hpp) on every engine and both fields, against an
// independent computation over the integers: one sample at a time, __int128, each convolution
// written as its (channel, row, column) loops with signed padding offsets, no taps, no tables, no
// field. A layer's gradient is taken with respect to each op's own weights, op after op; sum pools
// (verifier/training/parameters.hpp) have none.
#include <gtest/gtest.h>

#include "host/training/backward.hpp"
#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/parameters.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using Vec = std::vector<i128>;

// The input position a kernel tap reads, or -1 in the zero padding.
long long source(std::size_t out, std::size_t stride, std::size_t k, std::size_t pad, std::size_t size) {
  const long long p = static_cast<long long>(out * stride + k) - static_cast<long long>(pad);
  return p < 0 || p >= static_cast<long long>(size) ? -1 : p;
}

// Visits every (output index, input index, weight index) product of an op, zero padding skipped.
template <class Fn>
void products(const LinearOp& op, Fn&& fn) {
  if (op.kind == LinearOp::Kind::dense) {
    for (std::size_t a = 0; a < op.rows; ++a)
      for (std::size_t j = 0; j < op.cols; ++j) fn(a, j, a * op.cols + j);
    return;
  }
  const ConvShape& c = op.conv;
  const std::size_t gin = c.in_channels / c.groups, gout = c.out_channels / c.groups;
  for (std::size_t co = 0; co < c.out_channels; ++co)
    for (std::size_t oh = 0; oh < c.out_h(); ++oh)
      for (std::size_t ow = 0; ow < c.out_w(); ++ow)
        for (std::size_t cl = 0; cl < gin; ++cl)
          for (std::size_t kh = 0; kh < c.kernel_h; ++kh)
            for (std::size_t kw = 0; kw < c.kernel_w; ++kw) {
              const long long ih = source(oh, c.stride_h, kh, c.pad_top, c.in_h);
              const long long iw = source(ow, c.stride_w, kw, c.pad_left, c.in_w);
              if (ih < 0 || iw < 0) continue;
              const std::size_t ci = co / gout * gin + cl;
              fn((co * c.out_h() + oh) * c.out_w() + ow,
                 (ci * c.in_h + static_cast<std::size_t>(ih)) * c.in_w + static_cast<std::size_t>(iw),
                 ((co * gin + cl) * c.kernel_h + kh) * c.kernel_w + kw);
            }
}

Vec op_forward(const LinearOp& op, const Vec& x) {
  Vec y(op.rows, 0);
  products(op, [&](std::size_t a, std::size_t j, std::size_t t) { y[a] += i128{op.weights[t]} * x[j]; });
  return y;
}

struct IntegerGradients {
  i128 loss = 0;
  std::vector<Vec> G, g;  // per layer: the trained ops' weights in chain order; the biases
  Vec outputs;
};

IntegerGradients integer_backward(const QuantizedModel& m, const std::vector<std::int64_t>& x,
                                  const std::vector<std::int64_t>& labels, std::int64_t s) {
  const std::size_t L = m.depth();
  IntegerGradients out;
  // Per layer and op: the op's gradient, every op (pools too, dropped at the end).
  std::vector<std::vector<Vec>> op_grads(L);
  for (std::size_t i = 0; i < L; ++i) {
    out.g.emplace_back(m.layers[i].rows, 0);
    for (const LinearOp& op : m.layers[i].ops) op_grads[i].emplace_back(op.weights.size(), 0);
  }
  for (std::size_t k = 0; k < labels.size(); ++k) {
    std::vector<std::vector<Vec>> inputs(L);  // each op's input
    std::vector<Vec> Z(L);
    Vec y(x.begin() + static_cast<std::ptrdiff_t>(k * m.in_dim()),
          x.begin() + static_cast<std::ptrdiff_t>((k + 1) * m.in_dim()));
    for (std::size_t i = 0; i < L; ++i) {
      Vec v = y;
      for (const LinearOp& op : m.layers[i].ops) {
        inputs[i].push_back(v);
        v = op_forward(op, v);
      }
      for (std::size_t a = 0; a < v.size(); ++a) v[a] += m.layers[i].bias[a];
      Z[i] = v;
      y = v;
      if (i + 1 < L)
        for (auto& e : y) e = e * e;
    }
    Vec d(m.out_dim());
    for (std::size_t o = 0; o < m.out_dim(); ++o) {
      const i128 err = Z[L - 1][o] - (static_cast<std::size_t>(labels[k]) == o ? s : 0);
      out.loss += err * err;
      d[o] = 2 * err;
      out.outputs.push_back(Z[L - 1][o]);
    }
    for (std::size_t i = L; i >= 1; --i) {
      const QuantizedLayer& l = m.layers[i - 1];
      for (std::size_t a = 0; a < l.rows; ++a) out.g[i - 1][a] += d[a];
      Vec v = d;  // dL/d(op output), last op first
      for (std::size_t o = l.ops.size(); o-- > 0;) {
        const LinearOp& op = l.ops[o];
        const Vec& u = inputs[i - 1][o];
        Vec back(op.cols, 0);
        products(op, [&](std::size_t a, std::size_t j, std::size_t t) {
          op_grads[i - 1][o][t] += v[a] * u[j];
          back[j] += i128{op.weights[t]} * v[a];
        });
        v = back;
      }
      if (i == 1) break;
      d.assign(l.cols, 0);
      for (std::size_t j = 0; j < l.cols; ++j) d[j] = 2 * Z[i - 2][j] * v[j];
    }
  }
  for (std::size_t i = 0; i < L; ++i) {
    Vec G;
    for (std::size_t o = 0; o < m.layers[i].ops.size(); ++o)
      if (!is_sum_pool(m.layers[i].ops[o])) G.insert(G.end(), op_grads[i][o].begin(), op_grads[i][o].end());
    out.G.push_back(G);
  }
  return out;
}

template <class Cfg>
class BackwardConv : public ::testing::Test {};
using FileConfigs = ::testing::Types<M61, M127>;
TYPED_TEST_SUITE(BackwardConv, FileConfigs);

// Random 1- to 3-layer networks of chains of convolutions (strides, paddings, groups), sum pools
// and dense maps, batches 1 to 30.
TYPED_TEST(BackwardConv, EveryEngineMatchesTheIntegers) {
  using F = typename TypeParam::F;
  auto rng = make_rng(1818);
  std::size_t ran = 0, trained_convs = 0, pools = 0;
  for (int c = 0; c < 40; ++c) {
    const std::size_t depth = testing::pick(rng, 1, 3), batch = c == 0 ? 1 : c == 1 ? 30 : testing::pick(rng, 1, 30);
    const QuantizedModel m = testing::random_cnn(rng, depth);
    SCOPED_TRACE(::testing::Message() << "case " << c << ": " << depth << " layers, batch " << batch);
    const std::vector<std::int64_t> x = random_ints(rng, batch * m.in_dim(), 2);
    std::vector<std::int64_t> labels(batch);
    for (auto& y : labels) y = static_cast<std::int64_t>(testing::pick(rng, 0, m.out_dim() - 1));
    const std::int64_t s = static_cast<std::int64_t>(testing::pick(rng, 1, 4));
    const auto profile = magnitude_profile(m);
    // Within m127's bound __int128 cannot overflow either; outside it the case says nothing.
    if (training_magnitude_violation(profile, m, 2, batch, s, FieldId::m127)) continue;
    if (training_magnitude_violation(profile, m, 2, batch, s, TypeParam::kId)) continue;
    ++ran;
    for (const auto& l : m.layers)
      for (const auto& op : l.ops) {
        trained_convs += op.kind == LinearOp::Kind::conv && trained(op) ? 1 : 0;
        pools += is_sum_pool(op) ? 1 : 0;
      }
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
      for (std::size_t i = 0; i < m.depth(); ++i) {
        ASSERT_EQ(claims.weight_gradients[i].size(), layer_parameters(m.layers[i]));
        ASSERT_EQ(claims.weight_gradients[i].size(), expected.G[i].size());
        for (std::size_t t = 0; t < expected.G[i].size(); ++t)
          ASSERT_EQ(i128{claims.weight_gradients[i][t].centered()}, expected.G[i][t])
              << "G_" << i + 1 << "[" << t << "]";
        for (std::size_t t = 0; t < expected.g[i].size(); ++t)
          ASSERT_EQ(i128{claims.bias_gradients[i][t].centered()}, expected.g[i][t]) << "g_" << i + 1 << "[" << t << "]";
      }
      ASSERT_EQ(claims.outputs.size(), expected.outputs.size());
      for (std::size_t t = 0; t < expected.outputs.size(); ++t)
        ASSERT_EQ(i128{claims.outputs[t].centered()}, expected.outputs[t]) << "output " << t;
    }
  }
  // Not trivially skipped, and the cases hold trained convolutions and pools.
  EXPECT_GE(ran, TypeParam::kId == FieldId::m127 ? 20u : 8u);
  EXPECT_GT(trained_convs, 0u);
  EXPECT_GT(pools, 0u);
}

// A 1-channel 3x3 image, a 2x2 kernel at stride 1, no padding, by hand: kernel [[1, 0], [0, -1]],
// x = [[1, 2, 0], [0, 1, 3], [2, 0, 1]], bias 0, one sample, label 0 over 4 classes, s = 1.
// Z = [1-1, 2-3, 0-0, 1-1] = [0, -1, 0, 0]; D = 2 (Z - T) = [-2, -2, 0, 0];
// dK[kh][kw] = sum_(oh, ow) D[oh][ow] x[oh + kh][ow + kw] = -2 (x[kh][kw] + x[kh][kw + 1]):
// dK = [-2 (1 + 2), -2 (2 + 0), -2 (0 + 1), -2 (1 + 3)] = [-6, -4, -2, -8]; L = 1 + 1 = 2.
TEST(BackwardConv, OneConvolutionByHand) {
  QuantizedModel m;
  QuantizedLayer l;
  const ConvShape c{1, 3, 3, 1, 2, 2};
  l.ops.push_back(LinearOp::convolution(c, {1, 0, 0, -1}));
  l.rows = 4;
  l.cols = 9;
  l.bias = {0, 0, 0, 0};
  m.layers.push_back(l);
  const auto layers = field_layers<Fp61>(m);
  std::vector<Fp61> x;
  for (int v : {1, 2, 0, 0, 1, 3, 2, 0, 1}) x.push_back(Fp61::from_int(v));
  for (std::string_view name : runnable_engines()) {
    auto engine = make_engine<M61>(name);
    auto trace = run_backward(*engine, layers, x, {0}, Fp61::one());
    const auto claims = gradient_claims(*engine, layers, trace);
    EXPECT_EQ(claims.loss, Fp61::from_int(2)) << name;
    std::vector<Fp61> dk;
    for (int v : {-6, -4, -2, -8}) dk.push_back(Fp61::from_int(v));
    EXPECT_EQ(claims.weight_gradients[0], dk) << name;
  }
}

}  // namespace
}  // namespace nnproof

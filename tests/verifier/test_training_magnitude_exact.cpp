// SPDX-License-Identifier: Apache-2.0
// The training magnitude bound (verifier/training/magnitude.hpp) against the exact values it bounds:
// random dense and convolutional networks run sample by sample over __int128 (the chain rule
// written out op by op, no field, no engine), every quantity's largest |value| compared with its
// bound. The data-dependent bound (from the exact outputs) must be at least the truth, at most the
// worst case, and must refuse m61 wherever a value truly reaches (p - 1) / 2.
#include <gtest/gtest.h>

#include <map>

#include "tests/support/models.hpp"
#include "tests/support/random.hpp"
#include "verifier/training/magnitude.hpp"

namespace nnproof {
namespace {

using testing::make_rng;
using testing::pick;

// fn(in_index, weight_index, weight) for every entry of row `out` of the op's matrix.
template <class Fn>
void for_each_use(const LinearOp& op, std::size_t out, Fn&& fn) {
  op.weights.visit([&](const auto* w) {
    if (op.kind == LinearOp::Kind::dense) {
      for (std::size_t j = 0; j < op.cols; ++j) fn(j, out * op.cols + j, static_cast<i128>(w[out * op.cols + j]));
    } else {
      for_each_tap(op.conv, out, [&](std::size_t j, std::size_t t) { fn(j, t, static_cast<i128>(w[t])); });
    }
  });
}

std::vector<LinearOp> ops_of(const QuantizedLayer& l) {
  if (l.structured()) return l.ops;
  return {LinearOp::dense(l.rows, l.cols, l.weights)};
}

u128 absv(i128 v) { return v < 0 ? static_cast<u128>(-v) : static_cast<u128>(v); }

// Largest |value| of each training quantity, keyed as TrainingBound is (layer, where).
using Maxima = std::map<std::pair<std::size_t, std::string>, u128>;

struct Exact {
  Maxima max;
  std::vector<i128> outputs;  // N x n_L
};

void note(Maxima& m, std::size_t layer, const std::string& where, i128 v) {
  u128& slot = m[{layer, where}];
  slot = std::max(slot, absv(v));
}

Exact exact_training_values(const QuantizedModel& m, const std::vector<std::int64_t>& x,
                            const std::vector<std::int64_t>& labels, std::int64_t s) {
  const std::size_t L = m.depth(), N = labels.size();
  Exact out;
  // Per layer and trained op: the gradient summed over the batch; per layer the bias gradient.
  std::vector<std::vector<std::vector<i128>>> G(L);
  std::vector<std::vector<i128>> g(L);
  for (std::size_t i = 0; i < L; ++i) {
    for (const LinearOp& op : ops_of(m.layers[i])) G[i].emplace_back(op.fixed ? 0 : op.weights.size(), 0);
    g[i].assign(m.layers[i].rows, 0);
  }
  i128 loss = 0;
  for (std::size_t k = 0; k < N; ++k) {
    // U[i][t]: the input of op t of layer i; Z[i]: its pre-activation.
    std::vector<std::vector<std::vector<i128>>> U(L);
    std::vector<std::vector<i128>> Z(L);
    std::vector<i128> y(x.begin() + static_cast<std::ptrdiff_t>(k * m.in_dim()),
                        x.begin() + static_cast<std::ptrdiff_t>((k + 1) * m.in_dim()));
    for (std::size_t i = 0; i < L; ++i) {
      for (const LinearOp& op : ops_of(m.layers[i])) {
        U[i].push_back(y);
        std::vector<i128> next(op.rows, 0);
        for (std::size_t a = 0; a < op.rows; ++a)
          for_each_use(op, a, [&](std::size_t j, std::size_t, i128 w) { next[a] += w * y[j]; });
        y = std::move(next);
      }
      for (std::size_t a = 0; a < y.size(); ++a) y[a] += m.layers[i].bias[a];
      Z[i] = y;
      if (i + 1 < L)
        for (auto& v : y) v *= v;
    }
    std::vector<i128> d(m.out_dim());
    for (std::size_t o = 0; o < m.out_dim(); ++o) {
      const i128 err = Z[L - 1][o] - (static_cast<std::size_t>(labels[k]) == o ? s : 0);
      loss += err * err;
      d[o] = 2 * err;
      out.outputs.push_back(Z[L - 1][o]);
    }
    for (std::size_t i = L; i >= 1; --i) {
      for (i128 v : d) note(out.max, i, "backward D (dL/dZ)", v);
      for (std::size_t a = 0; a < d.size(); ++a) g[i - 1][a] += d[a];
      const std::vector<LinearOp> ops = ops_of(m.layers[i - 1]);
      std::vector<i128> v = d;  // the gradient of op t's output
      for (std::size_t t = ops.size(); t-- > 0;) {
        std::vector<i128> prev(ops[t].cols, 0);
        for (std::size_t a = 0; a < ops[t].rows; ++a)
          for_each_use(ops[t], a, [&](std::size_t j, std::size_t p, i128 w) {
            if (!ops[t].fixed) G[i - 1][t][p] += v[a] * U[i - 1][t][j];
            prev[j] += w * v[a];
          });
        v = std::move(prev);
      }
      if (i == 1) break;
      for (i128 e : v) note(out.max, i - 1, "backward E (dL/dY)", e);
      d.assign(v.size(), 0);
      for (std::size_t j = 0; j < v.size(); ++j) d[j] = 2 * Z[i - 2][j] * v[j];
    }
  }
  note(out.max, L, "loss (sum of squared errors)", loss);
  for (std::size_t i = 0; i < L; ++i) {
    for (const auto& op : G[i])
      for (i128 v : op) note(out.max, i + 1, "weight gradient G (dL/dW)", v);
    for (i128 v : g[i]) note(out.max, i + 1, "bias gradient g (dL/dB)", v);
  }
  return out;
}

struct Case {
  QuantizedModel model;
  std::vector<std::int64_t> x, labels;
  std::int64_t s = 1;
  u128 xmax = 0;
};

// Dense (1 to 4 layers) or convolutional (1 to 3 layers), inputs up to 1 .. 2^12 so that the true
// values land on both sides of m61's 2^60 while the worst case stays within m127 (so __int128
// holds every value and partial sum).
Case random_case(std::mt19937_64& rng, bool conv) {
  Case c;
  if (conv) {
    c.model = testing::random_cnn(rng, pick(rng, 1, 3));
  } else {
    std::vector<std::size_t> dims(pick(rng, 2, 5));
    for (auto& d : dims) d = pick(rng, 1, 9);
    c.model = testing::random_model(dims, rng, static_cast<std::int64_t>(pick(rng, 1, 7)), 3);
  }
  const std::size_t N = pick(rng, 1, 40);
  const std::int64_t xmax = std::int64_t{1} << pick(rng, 0, 12);
  c.x = random_ints(rng, N * c.model.in_dim(), xmax);
  c.xmax = max_abs(c.x);
  c.labels.resize(N);
  for (auto& y : c.labels) y = static_cast<std::int64_t>(pick(rng, 0, c.model.out_dim() - 1));
  c.s = static_cast<std::int64_t>(pick(rng, 1, 1 << 20));
  return c;
}

TEST(TrainingMagnitudeExact, DataBoundHoldsIsTighterAndRefusesEveryWrap) {
  auto rng = make_rng(1818);
  const u128 limit61 = Fp61::P / 2;
  int checked = 0, wraps = 0, rescued = 0;
  for (int t = 0; t < 400; ++t) {
    const Case c = random_case(rng, t % 2 == 1);
    const auto profile = magnitude_profile(c.model);
    const std::size_t N = c.labels.size();
    if (training_magnitude_violation(profile, c.model, c.xmax, N, c.s, FieldId::m127)) continue;
    SCOPED_TRACE(::testing::Message() << "case " << t << ", " << c.model.depth() << " layers, N " << N);
    ++checked;
    const Exact truth = exact_training_values(c.model, c.x, c.labels, c.s);
    const auto outputs = output_gradient_bounds(truth.outputs, c.labels, c.model.out_dim(), c.s);
    const auto data = training_magnitude_bounds(profile, c.model, c.xmax, c.s, outputs);
    const auto worst = training_magnitude_bounds(profile, c.model, c.xmax, N, c.s);
    ASSERT_EQ(data.size(), worst.size());
    bool truly_wraps = false;
    for (std::size_t b = 0; b < data.size(); ++b) {
      SCOPED_TRACE(data[b].where);
      ASSERT_EQ(data[b].layer, worst[b].layer);
      ASSERT_EQ(data[b].where, worst[b].where);
      EXPECT_LE(data[b].bound, worst[b].bound);
      const auto it = truth.max.find({data[b].layer, data[b].where});
      if (it == truth.max.end()) continue;  // the target
      EXPECT_GE(data[b].bound, it->second) << "layer " << data[b].layer;
      truly_wraps = truly_wraps || it->second > limit61;
    }
    // The loss and the largest |D_L| are exact.
    EXPECT_EQ(data[1].bound, (truth.max.at({c.model.depth(), "loss (sum of squared errors)"})));
    EXPECT_EQ(data[2].bound, (truth.max.at({c.model.depth(), "backward D (dL/dZ)"})));
    const bool data_refuses =
        training_magnitude_violation(profile, c.model, c.xmax, c.s, outputs, FieldId::m61).has_value();
    const bool worst_refuses = training_magnitude_violation(profile, c.model, c.xmax, N, c.s, FieldId::m61).has_value();
    if (truly_wraps) {
      ++wraps;
      EXPECT_TRUE(data_refuses) << "a value reaches (p - 1) / 2 of m61 and the bound accepts";
    }
    EXPECT_TRUE(worst_refuses || !data_refuses);  // never stricter than the worst case
    rescued += worst_refuses && !data_refuses ? 1 : 0;
  }
  // The sweep reached every side: cases checked, true wraps refused, worst-case refusals lifted.
  EXPECT_GE(checked, 200);
  EXPECT_GE(wraps, 20);
  EXPECT_GE(rescued, 20);
}

}  // namespace
}  // namespace nnproof

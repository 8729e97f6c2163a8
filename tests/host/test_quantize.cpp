// SPDX-License-Identifier: Apache-2.0
// Quantization (PROTOCOL.md section 7): scales, rounding, non-integer refusal at scale 1, and the
// worst-case magnitude check.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "host/quantize.hpp"

namespace nnproof {
namespace {

FloatModel two_layer(std::vector<double> w1, std::vector<double> b1, std::vector<double> w2, std::vector<double> b2) {
  FloatModel m;
  m.path = "m.onnx";
  m.layers.push_back({"fc1", 2, 2, std::move(w1), std::move(b1), {}});
  m.layers.push_back({"fc2", 1, 2, std::move(w2), std::move(b2), {}});
  return m;
}

NpyArray reals(std::size_t rows, std::size_t cols, std::vector<double> v) {
  NpyArray a;
  a.shape = {rows, cols};
  a.dtype = NpyDType::f64;
  a.reals = std::move(v);
  return a;
}

TEST(Quantize, ScalesWeightsBiasesAndInputsExactly) {
  auto fm = two_layer({0.5, -0.25, 1.0, 0.126}, {0.5, -1.5}, {1.0, -0.5}, {0.25});
  QuantizedModel q = quantize_model(fm, {4.0, 8.0});                                     // alpha 4, beta 8
  EXPECT_EQ(q.layers[0].weights.to_vector(), (std::vector<std::int64_t>{4, -2, 8, 1}));  // 0.126 * 8 = 1.008 -> 1
  // s_Z(1) = beta * alpha = 32; s_Y(1) = 1024; s_Z(2) = 8192.
  EXPECT_EQ(q.layers[0].bias[0], 16);
  EXPECT_EQ(q.layers[0].bias[1], -48);
  EXPECT_EQ(q.layers[1].bias[0], 2048);
  EXPECT_DOUBLE_EQ(q.output_scale(), 8192.0);
  auto x = quantize_input(reals(1, 2, {0.375, -0.125}), "x.npy", q);
  EXPECT_EQ(x, (std::vector<std::int64_t>{2, -1}));  // 1.5 -> 2 and -0.5 -> -1: ties away from zero
}

TEST(Quantize, MetadataScalesApplyAndCommandLineWins) {
  auto fm = two_layer({0.5, 0.5, 0.5, 0.5}, {}, {1, 1}, {});
  fm.beta = 2.0;
  EXPECT_EQ(quantize_model(fm, {}).layers[0].weights[0], 1);
  EXPECT_EQ(quantize_model(fm, {std::nullopt, 4.0}).layers[0].weights[0], 2);
}

TEST(Quantize, NonIntegersAtScaleOneAreRefusedWithTheFix) {
  auto fm = two_layer({0.5, 1, 1, 1}, {}, {1, 1}, {});
  try {
    quantize_model(fm, {});
    FAIL() << "expected a QuantizeError";
  } catch (const QuantizeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("m.onnx"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not an integer"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--beta"), std::string::npos) << msg;
  }
  auto ok = two_layer({2, 1, 1, 1}, {}, {1, 1}, {});
  QuantizedModel q = quantize_model(ok, {});
  EXPECT_THROW(quantize_input(reals(1, 2, {0.5, 1}), "x.npy", q), QuantizeError);
  EXPECT_THROW(quantize_input(reals(1, 3, {1, 1, 1}), "x.npy", q), QuantizeError);  // wrong width
  EXPECT_THROW(quantize_input(reals(1, 2, {NAN, 1}), "x.npy", q), QuantizeError);
  EXPECT_THROW(quantize_model(ok, {-1.0, std::nullopt}), QuantizeError);
}

// Errors name the value (built only on error since session 7), and values past 2^63 (biases may
// reach 2^126) still convert exactly.
TEST(Quantize, ErrorsNameTheValueAndWideBiasesConvertExactly) {
  auto ok = two_layer({2, 1, 1, 1}, {}, {1, 1}, {});
  QuantizedModel q = quantize_model(ok, {});
  try {
    quantize_input(reals(2, 2, {1, 1, 1, 0.5}), "x.npy", q);
    FAIL() << "expected a QuantizeError";
  } catch (const QuantizeError& e) {
    EXPECT_NE(std::string(e.what()).find("x.npy: input[1][1] is 0.5"), std::string::npos) << e.what();
  }
  try {
    quantize_model(two_layer({2, 1, 0.5, 1}, {}, {1, 1}, {}), {});
    FAIL() << "expected a QuantizeError";
  } catch (const QuantizeError& e) {
    EXPECT_NE(std::string(e.what()).find("m.onnx: layer 'fc1' weight 2 is 0.5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(quantize_model(two_layer({0x1p62, 1, 1, 1}, {}, {1, 1}, {}), {}), QuantizeError);  // >= 2^62
  const double wide = 0x1p100 + 0x1p60;  // exact in a double, far past int64
  QuantizedModel b = quantize_model(two_layer({2, 1, 1, 1}, {wide, -wide}, {1, 1}, {}), {});
  EXPECT_EQ(b.layers[0].bias[0], (i128{1} << 100) + (i128{1} << 60));
  EXPECT_EQ(b.layers[0].bias[1], -((i128{1} << 100) + (i128{1} << 60)));
}

// Weights are rounded without libm (truncated by an integer conversion, then one away from zero
// when the fraction is at least 1/2) and written straight into their narrowest storage: equal to
// std::round on ties, near-ties, both signs, large magnitudes up to the 2^62 limit, and random
// values at several scales, in the storage WeightMatrix itself picks for those values.
TEST(Quantize, WeightsRoundExactlyAsStdRound) {
  constexpr double kBelow52 = 0x1p52 - 0.5, kBelow62 = 0x1p62 - 0x1p10;  // the last halves; the largest below 2^62
  const std::vector<double> edges = {
      0.5,        -0.5,       1.5,      -1.5,      2.5,    -2.5,    0.49999999999999994, -0.0, 0.0, kBelow52, -kBelow52,
      0x1p52 + 1, 0x1p53 - 1, kBelow62, -kBelow62, 1e-300, -1e-300, -0.49999999999999994};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  // Random values below 2^e: with the scales below, every storage width from int8 to int64.
  const auto random_below = [&](int e) {
    std::vector<double> v;
    for (int i = 0; i < 2000; ++i) v.push_back(std::ldexp(unit(rng), static_cast<int>(rng() % e)));
    return v;
  };
  std::set<unsigned> widths;
  for (auto [beta, e] : {std::pair{1.0, 50}, {3.7, 5}, {3.7, 12}, {1024.0, 20}, {0.001, 50}}) {
    std::vector<double> w = random_below(e);
    if (e == 50 && beta == 1.0) w.insert(w.end(), edges.begin(), edges.end());  // fit below 2^62 at scale 1 only
    FloatModel m;
    m.path = "m.onnx";
    m.layers.push_back({"fc1", 1, w.size(), w, {}, {}});
    const QuantizedModel q = quantize_model(m, {std::nullopt, beta});
    const std::vector<std::int64_t> got = q.layers[0].weights.to_vector();
    ASSERT_EQ(got.size(), w.size());
    EXPECT_EQ(q.layers[0].weights.width(), WeightMatrix(got).width()) << "beta " << beta;
    widths.insert(q.layers[0].weights.width());
    for (std::size_t i = 0; i < w.size(); ++i)
      ASSERT_EQ(got[i], static_cast<std::int64_t>(std::round(beta * w[i]))) << "w " << w[i] << " beta " << beta;
  }
  EXPECT_EQ(widths, (std::set<unsigned>{1, 2, 4, 8}));
}

TEST(Quantize, MagnitudeCheckNamesTheLayerAndSuggestsM127) {
  QuantizedModel m;
  // Layer 1: 2 inputs, weights 2^20: |Z1| <= 2 * 2^20 * |x|; |Y1| = |Z1|^2.
  m.layers.push_back({1, 2, {1 << 20, 1 << 20}, {0}, {}, {}});
  m.layers.push_back({1, 1, {1}, {0}, {}, {}});
  std::vector<std::int64_t> small = {1, 1}, big = {1 << 10, 1 << 10};
  EXPECT_NO_THROW(check_magnitudes(m, small, FieldId::m61));  // 2^21, then 2^42: fits 2^60
  try {
    check_magnitudes(m, big, FieldId::m61);  // 2^31, then 2^62 > 2^60
    FAIL() << "expected a QuantizeError";
  } catch (const QuantizeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("layer 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("m127"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(check_magnitudes(m, big, FieldId::m127));
  // Exactly at the limit passes, one past it fails: the bound is exact integer arithmetic.
  QuantizedModel edge;
  const std::int64_t half = static_cast<std::int64_t>(Fp61::P / 2);
  edge.layers.push_back({1, 1, {1}, {0}, {}, {}});
  std::vector<std::int64_t> at = {half}, past = {half + 1};
  EXPECT_NO_THROW(check_magnitudes(edge, at, FieldId::m61));
  EXPECT_THROW(check_magnitudes(edge, past, FieldId::m61), QuantizeError);
}

}  // namespace
}  // namespace nnproof

namespace nnproof {
namespace {

// A negative value past the limit is reported as past it in magnitude, not as "-9.2e18 >= 2^62".
TEST(Quantize, TooLargeNamesTheMagnitude) {
  QuantizedModel m;
  try {
    m = quantize_model(two_layer({-0x1p63, 1, 1, 1}, {}, {1, 1}, {}), {});
    FAIL() << "a weight of -2^63 was accepted";
  } catch (const QuantizeError& e) {
    EXPECT_NE(std::string(e.what()).find(", magnitude >= 2^62"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nnproof

namespace nnproof {
namespace {

// Issue 19, item 7: PROTOCOL.md section 7 tracks the scales exactly. alpha = beta = 10 with 4
// layers makes s_Z(4) = 10^23, which a double cannot hold (it rounds the layer-4 bias
// round(10^23 * 0.5) to 49999999999999995805696): refused, naming the scale; with 3 layers every
// scale is exact (s_Y(3) = 10^22 is a double) and the model quantizes.
TEST(Quantize, ScalesWithoutAnExactDoubleAreRefused) {
  FloatModel m;
  m.path = "deep.onnx";
  for (int i = 1; i <= 4; ++i) m.layers.push_back({"fc" + std::to_string(i), 1, 1, {1.0}, {0.5}, {}});
  try {
    quantize_model(m, {10.0, 10.0});
    FAIL() << "alpha = beta = 10 with 4 layers was accepted";
  } catch (const QuantizeError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("deep.onnx: the scale s_Z(4) = 10 * 1e+22 has no exact double form", 0), 0u) << msg;
    EXPECT_NE(msg.find("powers of two"), std::string::npos) << msg;
  }
  m.layers.pop_back();
  const QuantizedModel q = quantize_model(m, {10.0, 10.0});
  EXPECT_EQ(q.layers[2].bias[0], static_cast<i128>(50000000000));  // round(10^11 * 0.5)
  EXPECT_EQ(q.output_scale(), 1e11);
  // Powers of two never round: alpha = beta = 2^5 with 4 layers (s_Z(4) = 2^115).
  m.layers.push_back(m.layers.back());
  EXPECT_EQ(quantize_model(m, {32.0, 32.0}).layers[3].bias[0], static_cast<i128>(1) << 114);
}

// round(s x) of the exact product, from integers: x = M 2^k with M a 53-bit integer.
i128 exact_round(std::int64_t s, double x) {
  int e = 0;
  const double m = std::frexp(x, &e);
  const auto mant = static_cast<std::int64_t>(std::ldexp(m, 53));
  const i128 p = static_cast<i128>(s) * mant;  // s x = p 2^(e - 53)
  const int shift = e - 53;
  if (shift >= 0) return p << shift;
  if (-shift >= 120) return 0;
  const i128 mag = p < 0 ? -p : p;
  const i128 q = mag >> -shift, rem = mag - (q << -shift);
  const i128 r = q + (rem >= (i128{1} << (-shift - 1)) ? 1 : 0);  // ties away from zero
  return p < 0 ? -r : r;
}

// With a scale that is not a power of two the double product s x rounds; the quantizer rounds the
// exact product, as a verifier following the spec does: weights (beta) and biases (alpha beta),
// against exact_round, on values drawn near ties (k + 1/2 plus a few ulps) and at random.
TEST(Quantize, NonPowerOfTwoScalesRoundTheExactProduct) {
  std::mt19937_64 rng(71);
  for (const std::int64_t beta : {10LL, 3LL, 1000000007LL, 7LL * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7}) {
    FloatModel m;
    m.path = "m.onnx";
    FloatLayer l{"fc1", 400, 1, {}, {}, {}};
    std::uniform_real_distribution<double> u(-1000, 1000);
    for (std::size_t i = 0; i < l.rows; ++i) {
      double w = u(rng);
      if (i % 2 == 0) {  // near a tie of beta w: (k + 1/2) / beta, a few ulps either way
        w = (std::floor(w) + 0.5) / static_cast<double>(beta);
        for (int k = static_cast<int>(rng() % 7) - 3; k != 0; k += k > 0 ? -1 : 1)
          w = std::nextafter(w, k > 0 ? INFINITY : -INFINITY);
      }
      l.weights.push_back(w);
      l.bias.push_back(u(rng) * 1000 / 3);  // past 2^52 after scaling for the largest beta
    }
    m.layers.push_back(l);
    const QuantizedModel q = quantize_model(m, {1.0, static_cast<double>(beta)});
    for (std::size_t i = 0; i < l.rows; ++i) {
      EXPECT_EQ(static_cast<i128>(q.layers[0].weights[i]), exact_round(beta, l.weights[i])) << beta << " " << i;
      EXPECT_EQ(q.layers[0].bias[i], exact_round(beta, l.bias[i])) << beta << " " << i;  // s_Z(1) = beta
    }
  }
}

}  // namespace
}  // namespace nnproof

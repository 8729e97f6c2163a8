// SPDX-License-Identifier: Apache-2.0
// The training magnitude bound (verifier/training/magnitude.hpp): its values on a model small
// enough to bound by hand, and a field that could wrap refused while a wider one is accepted.
#include <gtest/gtest.h>

#include "verifier/training/magnitude.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof {
namespace {

// 1 -> 2 -> 1: W_1 = [2; -1], B_1 = [1, -3], W_2 = [3, -5], B_2 = [-1].
QuantizedModel hand_model() {
  QuantizedModel m;
  m.layers.push_back({2, 1, {2, -1}, {1, -3}, {}, {}});
  m.layers.push_back({1, 2, {3, -5}, {-1}, {}, {}});
  return m;
}

TEST(TrainingMagnitude, BoundsMatchTheHandComputation) {
  const QuantizedModel m = hand_model();
  // |x| <= 4, N = 5, s = 8. Forward: bZ_1 = max(2*4 + 1, 1*4 + 3) = 9, bY_1 = 81,
  // bZ_2 = (3 + 5) 81 + 1 = 649. |Z_2 - T| <= 657, so L <= 5 * 1 * 657^2 = 2158245 and |D_2| <= 1314;
  // G_2 <= 5 * 1314 * 81, g_2 <= 5 * 1314; E_1 <= (3, 5) * 1314 = (3942, 6570), max 6570; D_1 per
  // row: 2 (9 * 3942, 7 * 6570) = (70956, 91980) (row 2's |Z| <= 1 * 4 + 3 = 7);
  // G_1 <= 5 * 91980 * 4, g_1 <= 5 * 91980.
  const auto bounds = training_magnitude_bounds(magnitude_profile(m), m, 4, 5, 8);
  const std::vector<std::tuple<std::size_t, std::string, std::uint64_t>> expected{
      {2, "target (one-hot at s_Z(L))", 8},  {2, "loss (sum of squared errors)", 2158245},
      {2, "backward D (dL/dZ)", 1314},       {2, "weight gradient G (dL/dW)", 532170},
      {2, "bias gradient g (dL/dB)", 6570},  {1, "backward E (dL/dY)", 6570},
      {1, "backward D (dL/dZ)", 91980},      {1, "weight gradient G (dL/dW)", 1839600},
      {1, "bias gradient g (dL/dB)", 459900}};
  ASSERT_EQ(bounds.size(), expected.size());
  for (std::size_t t = 0; t < bounds.size(); ++t) {
    SCOPED_TRACE(t);
    EXPECT_EQ(bounds[t].layer, std::get<0>(expected[t]));
    EXPECT_EQ(bounds[t].where, std::get<1>(expected[t]));
    EXPECT_EQ(bounds[t].bound, u128{std::get<2>(expected[t])});
  }
  EXPECT_FALSE(training_magnitude_violation(magnitude_profile(m), m, 4, 5, 8, FieldId::m61));
}

TEST(TrainingMagnitude, RefusedInM61AcceptedInM127) {
  const QuantizedModel m = hand_model();
  // N = 2^45: L <= 2^45 * 657^2 ~ 2^63.7 > 2^60, far below 2^126.
  const std::size_t N = std::size_t{1} << 45;
  auto v = training_magnitude_violation(magnitude_profile(m), m, 4, N, 8, FieldId::m61);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->layer, 2u);
  EXPECT_EQ(v->where, "loss (sum of squared errors)");
  EXPECT_NE(v->describe(FieldId::m61).find("layer 2 loss"), std::string::npos) << v->describe(FieldId::m61);
  EXPECT_FALSE(training_magnitude_violation(magnitude_profile(m), m, 4, N, 8, FieldId::m127));
}

TEST(TrainingMagnitude, GradientCanBeTheFirstToWrap) {
  // One layer, W = [1], B = [0], s = 1, |x| <= 2^20, N = 2^19: L <= 2^19 (2^20 + 1)^2 < 2^60 but
  // G <= 2^19 * 2 (2^20 + 1) * 2^20 = 2^60 + 2^40 > 2^60 - 1.
  QuantizedModel m;
  m.layers.push_back({1, 1, {1}, {0}, {}, {}});
  auto v = training_magnitude_violation(magnitude_profile(m), m, u128{1} << 20, std::size_t{1} << 19, 1, FieldId::m61);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->layer, 1u);
  EXPECT_EQ(v->where, "weight gradient G (dL/dW)");
  EXPECT_FALSE(
      training_magnitude_violation(magnitude_profile(m), m, u128{1} << 20, std::size_t{1} << 18, 1, FieldId::m61));
}

TEST(TrainingMagnitude, ForwardViolationsComeFirstAndSaturate) {
  const QuantizedModel m = hand_model();
  auto v = training_magnitude_violation(magnitude_profile(m), m, u128{1} << 40, 1, 8, FieldId::m61);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->where, "activation (x*x)");  // the inference bound's own name
  // Huge inputs saturate at 2^128 - 1 instead of wrapping around to a small bound.
  const auto bounds = training_magnitude_bounds(magnitude_profile(m), m, u128{1} << 100, 1, 8);
  EXPECT_EQ(bounds.back().bound, ~u128{0});
  EXPECT_TRUE(training_magnitude_violation(magnitude_profile(m), m, u128{1} << 100, 1, 8, FieldId::m127));
}

// Layer 2 a chain: a 1 x 2 convolution [2, -1] of a 1 x 1 x 2 image, then a dense [3] (W_2 = [6, -3]).
// |x| <= 4, N = 5, s = 8: bZ_1 = 9, bY_1 = 81; bZ_2 = 3 (2 + 1) 81 + 1 = 730, |Z_2 - T| <= 738,
// L <= 5 * 738^2 = 2723220, |D_2| <= 1476. Per op: U_0 = (81, 81), U_1 = 243; the dense op's
// entry 1476 * 243 = 358668; V_0 = 3 * 1476 = 4428, each kernel entry 4428 * 81 = 358668; so
// G_2 <= 5 * 358668. E_1 <= (2, 1) * 4428 -> 8856 (= max |W_2| column 6 * 1476, as dense);
// D_1 <= 2 * 9 * 8856 = 159408, G_1 <= 5 * 159408 * 4, g_1 <= 5 * 159408.
TEST(TrainingMagnitude, StructuredLayersAreBoundedThroughTheirOps) {
  QuantizedModel m;
  m.layers.push_back({2, 1, {2, -1}, {1, -3}, {}, {}});
  QuantizedLayer l;
  ConvShape c;
  c.in_channels = c.out_channels = 1;
  c.in_h = 1;
  c.in_w = 2;
  c.kernel_h = 1;
  c.kernel_w = 2;
  l.ops = {LinearOp::convolution(c, {2, -1}), LinearOp::dense(1, 1, {3})};
  l.rows = 1;
  l.cols = 2;
  l.bias = {-1};
  m.layers.push_back(l);
  m.validate();
  const auto bounds = training_magnitude_bounds(magnitude_profile(m), m, 4, 5, 8);
  const std::vector<std::tuple<std::size_t, std::string, std::uint64_t>> expected{
      {2, "target (one-hot at s_Z(L))", 8},  {2, "loss (sum of squared errors)", 2723220},
      {2, "backward D (dL/dZ)", 1476},       {2, "weight gradient G (dL/dW)", 5 * 358668},
      {2, "bias gradient g (dL/dB)", 7380},  {1, "backward E (dL/dY)", 8856},
      {1, "backward D (dL/dZ)", 159408},     {1, "weight gradient G (dL/dW)", 5 * 159408 * 4},
      {1, "bias gradient g (dL/dB)", 797040}};
  ASSERT_EQ(bounds.size(), expected.size());
  for (std::size_t t = 0; t < bounds.size(); ++t) {
    SCOPED_TRACE(t);
    EXPECT_EQ(bounds[t].layer, std::get<0>(expected[t]));
    EXPECT_EQ(bounds[t].where, std::get<1>(expected[t]));
    EXPECT_EQ(bounds[t].bound, u128{std::get<2>(expected[t])});
  }
}

TEST(TargetScale, IntegerScalesOnly) {
  QuantizedModel m = hand_model();
  m.alpha = 4;
  m.beta = 8;  // s_Z(2) = beta (beta alpha)^2 = 8 * 32^2
  EXPECT_EQ(target_scale(m), 8 * 32 * 32);
  m.alpha = 0.5;
  m.beta = 3;  // 3 * 1.5^2 = 6.75
  try {
    target_scale(m);
    FAIL() << "a fractional output scale was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not an integer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nnproof quantize"), std::string::npos) << e.what();
  }
  m.alpha = 1024;
  m.beta = 1024;  // three layers: ((2^20)^2 2^10)^2 2^10 = 2^110, beyond 2^62
  m.layers.push_back({1, 1, {1}, {0}, {}, {}});
  EXPECT_THROW(target_scale(m), std::invalid_argument);
}

}  // namespace
}  // namespace nnproof

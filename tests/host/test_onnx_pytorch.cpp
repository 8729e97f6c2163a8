// SPDX-License-Identifier: Apache-2.0
// Models as torch.onnx.export writes them (opsets 9-17): a zero Pad before AveragePool or Conv,
// BatchNormalization (1d and 2d, eval mode) and constant Add / Sub / Mul / Div folded into the
// neighbouring linear op, torchvision's input normalization, and inputs as datasets ship them
// (uint8, float16). Each imported model is run in float against the network as ONNX defines it
// (onnx_reference.hpp); the flatten idiom and a whole proof are in test_onnx_flatten.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
#include "tests/host/onnx_pytorch.hpp"
#include "tests/support/temp_dir.hpp"

namespace nnproof {
namespace {

using namespace nnproof::testing;  // NOLINT: the shared writers and the reference ops
using OnnxPytorch = OnnxModelTest;

// ---- Pad -------------------------------------------------------------------------------------

// nn.AvgPool2d(3, stride=2, padding=1) with count_include_pad=True: before opset 11 the Pad's pads
// are an attribute, from 11 on a Constant input (and constant_value an optional input).
TEST_F(OnnxPytorch, ZeroPadThenAveragePoolIsOnePaddedSumPool) {
  for (int opset : {9, 11, 13, 17}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    std::mt19937_64 rng(1);
    OnnxGraph g(opset);
    g.input("input", {2, 5, 5});
    const std::vector<std::int64_t> pads = {0, 0, 1, 1, 0, 0, 1, 1};
    if (opset < 11) {
      set_ints(g.node("Pad", "pad", {"input"}, "padded"), "pads", pads);
    } else {
      g.constant("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
      std::vector<std::string> in{"input", "pads"};
      if (opset >= 13) {  // an explicit zero constant_value
        g.constant("zero", {}, {0.0}, onnx::TensorProto::FLOAT);
        in.push_back("zero");
      }
      set_string(g.node("Pad", "pad", in, "padded"), "mode", "constant");
    }
    auto& pool = g.node("AveragePool", "pool", {"padded"}, "pooled");
    set_ints(pool, "kernel_shape", {3, 3});
    set_ints(pool, "strides", {2, 2});
    set_int(g.node("Flatten", "flatten", {"pooled"}, "flat"), "axis", 1);
    Params fc;
    g.output(add_gemm(g, "fc", "flat", 3, 2 * 3 * 3, rng, fc));
    const FloatModel m = expect_matches(
        g, {2, 5, 5}, [&](const Image& x) { return gemm(average_pool(pad(x, 1, 1, 1, 1), 3, 2), fc.w, fc.b, 3); });
    ASSERT_EQ(m.layers.size(), 1u);
    const FloatOp& p = m.layers[0].ops.front();
    EXPECT_TRUE(p.exact);  // still an exact sum, 1/9 in the scale
    EXPECT_EQ(p.conv.pad_top + p.conv.pad_left + p.conv.pad_bottom + p.conv.pad_right, 4u);
  }
}

// nn.ZeroPad2d((0, 1, 1, 0)) before a Conv with its own padding: the pads add up.
TEST_F(OnnxPytorch, ZeroPadThenConvAddsToTheConvsPadding) {
  std::mt19937_64 rng(2);
  OnnxGraph g(13);
  g.input("input", {1, 4, 4});
  g.constant("pads", {8}, {0, 0, 1, 0, 0, 0, 0, 1});  // top 1, right 1
  g.node("Pad", "pad", {"input", "pads"}, "padded");
  Params c, fc;
  const std::string y = add_conv(g, "conv", "padded", 1, 2, 3, {1, 1, 1, 1}, rng, c);
  set_int(g.node("Flatten", "flatten", {y}, "flat"), "axis", 1);
  g.output(add_gemm(g, "fc", "flat", 2, 2 * 5 * 5, rng, fc));
  expect_matches(g, {1, 4, 4}, [&](const Image& x) {
    return gemm(conv(pad(pad(x, 1, 0, 0, 1), 1, 1, 1, 1), c.w, c.b, 2, 3), fc.w, fc.b, 2);
  });
}

TEST_F(OnnxPytorch, PadsOtherThanZeroPaddingOfAWindowAreRefused) {
  auto model = [](const std::function<void(OnnxGraph&)>& pad, const std::string& next) {
    OnnxGraph g(13);
    g.input("input", {1, 4, 4});
    pad(g);
    if (next == "AveragePool") {
      set_ints(g.node("AveragePool", "pool", {"padded"}, "y"), "kernel_shape", {2, 2});
    } else {
      g.node(next, "next", {"padded", "padded"}, "y");
    }
    g.output("y");
    return g;
  };
  auto pad = [](std::vector<double> pads, double value, const std::string& mode) {
    return [=](OnnxGraph& g) {
      g.constant("pads", {8}, pads);
      g.constant("value", {}, {value}, onnx::TensorProto::FLOAT);
      set_string(g.node("Pad", "pad", {"input", "pads", "value"}, "padded"), "mode", mode);
    };
  };
  const std::vector<double> hw = {0, 0, 1, 1, 0, 0, 1, 1};
  expect_refused(model(pad(hw, 0.5, "constant"), "AveragePool"), {"node 'pad' (Pad)", "value 0.5, not zero"});
  expect_refused(model(pad(hw, 0, "reflect"), "AveragePool"), {"node 'pad' (Pad)", "mode=reflect"});
  expect_refused(model(pad({0, 1, 0, 0, 0, 0, 0, 0}, 0, "constant"), "AveragePool"), {"batch or channel axis"});
  expect_refused(model(pad({0, 0, -1, 0, 0, 0, 0, 0}, 0, "constant"), "AveragePool"), {"negative padding crops"});
  expect_refused(model(pad(hw, 0, "constant"), "Mul"),
                 {"node 'next' (Mul)", "node 'pad' (Pad), zero padding that only a Conv or AveragePool can take"});
}

// ---- BatchNormalization ------------------------------------------------------------------

// Conv (no bias, as PyTorch writes a Conv followed by BatchNorm2d) -> BN -> x^2 -> pool -> Linear:
// the kernel rows and bias are exactly the documented fold of the file's values.
TEST_F(OnnxPytorch, BatchNorm2dFoldsIntoTheConvBeforeIt) {
  for (bool conv_bias : {false, true}) {
    std::mt19937_64 rng(3);
    OnnxGraph g(13);
    g.input("input", {2, 4, 4});
    Params c, fc;
    Norm bn;
    std::string y = add_conv(g, "conv", "input", 2, 3, 3, {1, 1, 1, 1}, rng, c, conv_bias);
    y = add_batch_norm(g, "bn", y, 3, rng, bn);
    g.node("Mul", "sq", {y, y}, "sq");
    set_ints(g.node("AveragePool", "pool", {"sq"}, "pooled"), "kernel_shape", {2, 2});
    set_ints(g.find("pool"), "strides", {2, 2});
    set_int(g.node("Flatten", "flatten", {"pooled"}, "flat"), "axis", 1);
    g.output(add_gemm(g, "fc", "flat", 2, 3 * 2 * 2, rng, fc));
    const FloatModel m = expect_matches(g, {2, 4, 4}, [&](const Image& x) {
      const Image z = bn.apply(conv(pad(x, 1, 1, 1, 1), c.w, c.b, 3, 3));
      return gemm(average_pool(square(z), 2, 2), fc.w, fc.b, 2);
    });
    ASSERT_EQ(m.layers.size(), 2u);
    const FloatOp& op = m.layers[0].ops.front();
    for (std::size_t co = 0; co < 3; ++co) {
      const double s = bn.scale[co] / std::sqrt(bn.var[co] + Norm::kEps);
      for (std::size_t t = 0; t < 2 * 9; ++t) EXPECT_EQ(op.weights[co * 18 + t], c.w[co * 18 + t] * s);
      const double b = conv_bias ? c.b[co] : 0.0;
      EXPECT_EQ(m.layers[0].bias[co * 16 + 5], s * b + (bn.b[co] - s * bn.mean[co]));
    }
  }
}

// Linear -> BatchNorm1d -> x^2 -> Linear, and BatchNorm2d after the activation (folded into the
// next Conv's columns, its shift through the Conv's zero padding).
TEST_F(OnnxPytorch, BatchNorm1dAndBatchNormAfterTheActivation) {
  std::mt19937_64 rng(4);
  OnnxGraph mlp(11);
  mlp.input("input", {6});
  Params f1, f2, c1, c2, fc;
  Norm bn;
  std::string y = add_batch_norm(mlp, "bn", add_gemm(mlp, "fc1", "input", 4, 6, rng, f1), 4, rng, bn);
  mlp.node("Mul", "sq", {y, y}, "sq");
  mlp.output(add_gemm(mlp, "fc2", "sq", 2, 4, rng, f2));
  expect_matches(mlp, {6, 1, 1},
                 [&](const Image& x) { return gemm(square(bn.apply(gemm(x, f1.w, f1.b, 4))), f2.w, f2.b, 2); });

  OnnxGraph cnn(13);
  cnn.input("input", {1, 4, 4});
  y = add_conv(cnn, "conv1", "input", 1, 2, 3, {0, 0, 0, 0}, rng, c1);
  cnn.node("Mul", "sq", {y, y}, "sq");
  y = add_conv(cnn, "conv2", add_batch_norm(cnn, "bn", "sq", 2, rng, bn), 2, 2, 2, {1, 1, 1, 1}, rng, c2);
  set_int(cnn.node("Flatten", "flatten", {y}, "flat"), "axis", 1);
  cnn.output(add_gemm(cnn, "fc", "flat", 2, 2 * 3 * 3, rng, fc));
  expect_matches(cnn, {1, 4, 4}, [&](const Image& x) {
    const Image z = bn.apply(square(conv(x, c1.w, c1.b, 2, 3)));
    return gemm(conv(pad(z, 1, 1, 1, 1), c2.w, c2.b, 2, 2), fc.w, fc.b, 2);
  });
}

TEST_F(OnnxPytorch, BatchNormInTrainingModeOrAtTheEndIsRefused) {
  std::mt19937_64 rng(5);
  Params f1, f2;
  Norm bn;
  OnnxGraph g(15);
  g.input("input", {3});
  const std::string y = add_batch_norm(g, "bn", add_gemm(g, "fc1", "input", 3, 3, rng, f1), 3, rng, bn);
  g.output(y);
  set_int(g.find("bn"), "training_mode", 1);
  expect_refused(g, {"node 'bn' (BatchNormalization)", "training mode", "model.eval()"});

  OnnxGraph end(13);
  end.input("input", {3});
  const std::string z = add_gemm(end, "fc1", "input", 3, 3, rng, f1);
  end.node("Mul", "sq", {z, z}, "sq");
  end.output(add_batch_norm(end, "bn", "sq", 3, rng, bn));
  expect_refused(end, {"node 'sq' (Mul)", "no linear layer to fold them into"});
}

// ---- constants on the activation -------------------------------------------------------------

// torchvision's Normalize exported with the model: Sub(x, mean) and Div(., std), per channel
// (1, C, 1, 1), before a padded Conv; and a scalar Mul after a Linear, a Div after a pool (still
// an exact sum pool, its factor halved), c - x, and a per-channel Mul after a pool.
TEST_F(OnnxPytorch, ConstantsFoldIntoTheNeighbouringLayers) {
  std::mt19937_64 rng(6);
  OnnxGraph g(13);
  g.input("input", {3, 4, 4});
  const std::vector<double> mean = {0.5, -0.25, 0.125}, std = {0.25, 2, 0.5}, ch = {1.5, -1, 2};
  g.initializer("mean", {1, 3, 1, 1}, mean);
  g.initializer("std", {1, 3, 1, 1}, std);
  g.initializer("half", {}, {0.5});
  g.initializer("two", {}, {2});
  g.initializer("ch", {2, 1, 1}, {ch[0], ch[1]});
  g.node("Sub", "sub", {"input", "mean"}, "centred");
  g.node("Div", "div", {"centred", "std"}, "normalized");
  Params c, fc1, fc2;
  std::string y = add_conv(g, "conv", "normalized", 3, 2, 3, {1, 1, 1, 1}, rng, c);
  g.node("Sub", "neg", {"two", y}, "negated");
  set_ints(g.node("AveragePool", "pool", {"negated"}, "pooled"), "kernel_shape", {2, 2});
  set_ints(g.find("pool"), "strides", {2, 2});
  g.node("Div", "halve", {"pooled", "two"}, "halved");
  g.node("Mul", "sq", {"halved", "halved"}, "sq");
  set_ints(g.node("AveragePool", "pool2", {"sq"}, "pooled2"), "kernel_shape", {2, 2});
  g.node("Mul", "per_channel", {"ch", "pooled2"}, "weighted");
  set_int(g.node("Flatten", "flatten", {"weighted"}, "flat"), "axis", 1);
  y = add_gemm(g, "fc1", "flat", 3, 2, rng, fc1);
  g.node("Mul", "scale", {y, "half"}, "scaled");
  g.node("Mul", "sq2", {"scaled", "scaled"}, "sq2");
  g.output(add_gemm(g, "fc2", "sq2", 2, 3, rng, fc2));
  const FloatModel m = expect_matches(g, {3, 4, 4}, [&](const Image& x) {
    Image z = x;
    for (std::size_t i = 0; i < z.v.size(); ++i) z.v[i] = (z.v[i] - mean[i / 16]) / std[i / 16];
    z = conv(pad(z, 1, 1, 1, 1), c.w, c.b, 2, 3);
    for (double& v : z.v) v = 2 - v;
    z = average_pool(z, 2, 2);
    for (double& v : z.v) v /= 2;
    z = average_pool(square(z), 2, 1);
    for (std::size_t i = 0; i < z.v.size(); ++i) z.v[i] *= ch[i];
    z = gemm(z, fc1.w, fc1.b, 3);
    for (double& v : z.v) v *= 0.5;
    return gemm(square(z), fc2.w, fc2.b, 2);
  });
  ASSERT_EQ(m.layers.size(), 3u);
  const auto& ops = m.layers[0].ops;
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_TRUE(ops[1].exact);  // Div by 2 after the pool: still a sum pool
  EXPECT_EQ(ops[1].factor, 1.0 / 8);
  EXPECT_FALSE(m.layers[1].ops.front().exact);  // different factors per channel: weighted
}

// ---- inputs as datasets ship them ------------------------------------------------------------

TEST_F(OnnxPytorch, Uint8AndFloat16InputsQuantizeExactly) {
  QuantizedModel q;
  q.alpha = 4;
  q.layers.push_back({});
  q.layers[0].rows = 1;
  q.layers[0].cols = 3;
  NpyArray u8;
  u8.shape = {1, 3};
  u8.dtype = NpyDType::u8;
  u8.integers = {0, 255, 7};
  EXPECT_EQ(quantize_input(u8, "x.npy", q), (std::vector<std::int64_t>{0, 1020, 28}));
  NpyArray f16;
  f16.shape = {1, 3};
  f16.dtype = NpyDType::f16;
  f16.reals = {0.5, 65504, -std::ldexp(1.0, -24)};
  EXPECT_EQ(quantize_input(f16, "x.npy", q), (std::vector<std::int64_t>{2, 262016, 0}));
}

}  // namespace
}  // namespace nnproof

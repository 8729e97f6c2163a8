// SPDX-License-Identifier: Apache-2.0
// Models as torch.onnx.export writes them (opsets 9-17): a zero Pad before AveragePool or Conv,
// BatchNormalization (1d and 2d, eval mode) and constant Add / Sub / Mul / Div folded into the
// neighbouring linear op, torchvision's input normalization, and the x.view(x.size(0), -1) flatten
// idiom (Shape / Gather / Unsqueeze / Concat / Reshape, or a constant-folded target). Each imported
// model is run in float against the network as ONNX defines it (onnx_reference.hpp); one goes on
// through quantization and a proof.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/prover.hpp"
#include "host/quantize.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "tests/host/onnx_graph.hpp"
#include "tests/host/onnx_reference.hpp"
#include "tests/support/models.hpp"
#include "tests/support/temp_dir.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

using testing::Image;
using testing::OnnxGraph;
using testing::sixteenths;
using Ref = std::function<Image(const Image&)>;

struct Params {
  std::vector<double> w, b;
};

std::string add_conv(OnnxGraph& g, const std::string& name, const std::string& x, std::size_t in_c, std::size_t m,
                     std::size_t k, const std::vector<std::int64_t>& pads, std::mt19937_64& rng, Params& p,
                     bool bias = true) {
  const auto mi = static_cast<std::int64_t>(m), ki = static_cast<std::int64_t>(k);
  p.w = sixteenths(rng, m * in_c * k * k);
  g.initializer(name + ".weight", {mi, static_cast<std::int64_t>(in_c), ki, ki}, p.w);
  std::vector<std::string> in{x, name + ".weight"};
  p.b.clear();
  if (bias) {
    p.b = sixteenths(rng, m);
    g.initializer(name + ".bias", {mi}, p.b);
    in.push_back(name + ".bias");
  }
  auto& n = g.node("Conv", name, in, name + ".out");
  testing::set_ints(n, "kernel_shape", {ki, ki});
  testing::set_ints(n, "pads", pads);
  return name + ".out";
}

std::string add_gemm(OnnxGraph& g, const std::string& name, const std::string& x, std::size_t rows, std::size_t cols,
                     std::mt19937_64& rng, Params& p) {
  p.w = sixteenths(rng, rows * cols);
  p.b = sixteenths(rng, rows);
  g.initializer(name + ".weight", {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}, p.w);
  g.initializer(name + ".bias", {static_cast<std::int64_t>(rows)}, p.b);
  testing::set_int(g.node("Gemm", name, {x, name + ".weight", name + ".bias"}, name + ".out"), "transB", 1);
  return name + ".out";
}

struct Norm {
  std::vector<double> scale, b, mean, var;
  static constexpr double kEps = 1.0 / 1024;  // exact in the float attribute
  Image apply(const Image& x) const { return testing::batch_norm(x, scale, b, mean, var, kEps); }
};

std::string add_batch_norm(OnnxGraph& g, const std::string& name, const std::string& x, std::size_t c,
                           std::mt19937_64& rng, Norm& bn) {
  bn = {sixteenths(rng, c), sixteenths(rng, c), sixteenths(rng, c), sixteenths(rng, c, 1, 64)};
  const std::vector<std::int64_t> dims = {static_cast<std::int64_t>(c)};
  g.initializer(name + ".weight", dims, bn.scale);
  g.initializer(name + ".bias", dims, bn.b);
  g.initializer(name + ".running_mean", dims, bn.mean);
  g.initializer(name + ".running_var", dims, bn.var);
  auto& n = g.node("BatchNormalization", name,
                   {x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"}, name + ".out");
  testing::set_float(n, "epsilon", static_cast<float>(Norm::kEps));
  testing::set_float(n, "momentum", 0.9f);
  return name + ".out";
}

class OnnxPytorch : public ::testing::Test {
 protected:
  // The imported model of `g` against `ref` on random inputs of shape chw.
  FloatModel expect_matches(const OnnxGraph& g, const std::vector<std::size_t>& chw, const Ref& ref) {
    const std::string path = dir.file("m.onnx");
    g.save(path);
    FloatModel m = import_onnx(path);
    std::mt19937_64 rng(7);
    for (int t = 0; t < 3; ++t) {
      const Image x{chw[0], chw[1], chw[2], sixteenths(rng, chw[0] * chw[1] * chw[2])};
      const std::vector<double> want = ref(x).v, got = testing::run_float(m, x.v);
      EXPECT_EQ(got.size(), want.size());
      for (std::size_t i = 0; i < want.size() && i < got.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 1e-9 * (1 + std::fabs(want[i]))) << "output " << i;
    }
    return m;
  }
  void expect_refused(const OnnxGraph& g, const std::vector<std::string>& fragments) {
    const std::string path = dir.file("bad.onnx");
    g.save(path);
    try {
      import_onnx(path);
      ADD_FAILURE() << "imported; expected an error with " << fragments.front();
    } catch (const ModelError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << "\n  missing: " << f;
    }
  }
  testing::TempDir dir;
};

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
      testing::set_ints(g.node("Pad", "pad", {"input"}, "padded"), "pads", pads);
    } else {
      g.constant("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
      std::vector<std::string> in{"input", "pads"};
      if (opset >= 13) {  // an explicit zero constant_value
        g.constant("zero", {}, {0.0}, onnx::TensorProto::FLOAT);
        in.push_back("zero");
      }
      testing::set_string(g.node("Pad", "pad", in, "padded"), "mode", "constant");
    }
    auto& pool = g.node("AveragePool", "pool", {"padded"}, "pooled");
    testing::set_ints(pool, "kernel_shape", {3, 3});
    testing::set_ints(pool, "strides", {2, 2});
    testing::set_int(g.node("Flatten", "flatten", {"pooled"}, "flat"), "axis", 1);
    Params fc;
    g.output(add_gemm(g, "fc", "flat", 3, 2 * 3 * 3, rng, fc));
    const FloatModel m = expect_matches(g, {2, 5, 5}, [&](const Image& x) {
      return testing::gemm(testing::average_pool(testing::pad(x, 1, 1, 1, 1), 3, 2), fc.w, fc.b, 3);
    });
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
  testing::set_int(g.node("Flatten", "flatten", {y}, "flat"), "axis", 1);
  g.output(add_gemm(g, "fc", "flat", 2, 2 * 5 * 5, rng, fc));
  expect_matches(g, {1, 4, 4}, [&](const Image& x) {
    return testing::gemm(testing::conv(testing::pad(testing::pad(x, 1, 0, 0, 1), 1, 1, 1, 1), c.w, c.b, 2, 3), fc.w,
                         fc.b, 2);
  });
}

TEST_F(OnnxPytorch, PadsOtherThanZeroPaddingOfAWindowAreRefused) {
  auto model = [](const std::function<void(OnnxGraph&)>& pad, const std::string& next) {
    OnnxGraph g(13);
    g.input("input", {1, 4, 4});
    pad(g);
    if (next == "AveragePool") {
      testing::set_ints(g.node("AveragePool", "pool", {"padded"}, "y"), "kernel_shape", {2, 2});
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
      testing::set_string(g.node("Pad", "pad", {"input", "pads", "value"}, "padded"), "mode", mode);
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
    testing::set_ints(g.node("AveragePool", "pool", {"sq"}, "pooled"), "kernel_shape", {2, 2});
    testing::set_ints(g.find("pool"), "strides", {2, 2});
    testing::set_int(g.node("Flatten", "flatten", {"pooled"}, "flat"), "axis", 1);
    g.output(add_gemm(g, "fc", "flat", 2, 3 * 2 * 2, rng, fc));
    const FloatModel m = expect_matches(g, {2, 4, 4}, [&](const Image& x) {
      const Image z = bn.apply(testing::conv(testing::pad(x, 1, 1, 1, 1), c.w, c.b, 3, 3));
      return testing::gemm(testing::average_pool(testing::square(z), 2, 2), fc.w, fc.b, 2);
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
  expect_matches(mlp, {6, 1, 1}, [&](const Image& x) {
    return testing::gemm(testing::square(bn.apply(testing::gemm(x, f1.w, f1.b, 4))), f2.w, f2.b, 2);
  });

  OnnxGraph cnn(13);
  cnn.input("input", {1, 4, 4});
  y = add_conv(cnn, "conv1", "input", 1, 2, 3, {0, 0, 0, 0}, rng, c1);
  cnn.node("Mul", "sq", {y, y}, "sq");
  y = add_conv(cnn, "conv2", add_batch_norm(cnn, "bn", "sq", 2, rng, bn), 2, 2, 2, {1, 1, 1, 1}, rng, c2);
  testing::set_int(cnn.node("Flatten", "flatten", {y}, "flat"), "axis", 1);
  cnn.output(add_gemm(cnn, "fc", "flat", 2, 2 * 3 * 3, rng, fc));
  expect_matches(cnn, {1, 4, 4}, [&](const Image& x) {
    const Image z = bn.apply(testing::square(testing::conv(x, c1.w, c1.b, 2, 3)));
    return testing::gemm(testing::conv(testing::pad(z, 1, 1, 1, 1), c2.w, c2.b, 2, 2), fc.w, fc.b, 2);
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
  testing::set_int(g.find("bn"), "training_mode", 1);
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
  testing::set_ints(g.node("AveragePool", "pool", {"negated"}, "pooled"), "kernel_shape", {2, 2});
  testing::set_ints(g.find("pool"), "strides", {2, 2});
  g.node("Div", "halve", {"pooled", "two"}, "halved");
  g.node("Mul", "sq", {"halved", "halved"}, "sq");
  testing::set_ints(g.node("AveragePool", "pool2", {"sq"}, "pooled2"), "kernel_shape", {2, 2});
  g.node("Mul", "per_channel", {"ch", "pooled2"}, "weighted");
  testing::set_int(g.node("Flatten", "flatten", {"weighted"}, "flat"), "axis", 1);
  y = add_gemm(g, "fc1", "flat", 3, 2, rng, fc1);
  g.node("Mul", "scale", {y, "half"}, "scaled");
  g.node("Mul", "sq2", {"scaled", "scaled"}, "sq2");
  g.output(add_gemm(g, "fc2", "sq2", 2, 3, rng, fc2));
  const FloatModel m = expect_matches(g, {3, 4, 4}, [&](const Image& x) {
    Image z = x;
    for (std::size_t i = 0; i < z.v.size(); ++i) z.v[i] = (z.v[i] - mean[i / 16]) / std[i / 16];
    z = testing::conv(testing::pad(z, 1, 1, 1, 1), c.w, c.b, 2, 3);
    for (double& v : z.v) v = 2 - v;
    z = testing::average_pool(z, 2, 2);
    for (double& v : z.v) v /= 2;
    z = testing::average_pool(testing::square(z), 2, 1);
    for (std::size_t i = 0; i < z.v.size(); ++i) z.v[i] *= ch[i];
    z = testing::gemm(z, fc1.w, fc1.b, 3);
    for (double& v : z.v) v *= 0.5;
    return testing::gemm(testing::square(z), fc2.w, fc2.b, 2);
  });
  ASSERT_EQ(m.layers.size(), 3u);
  const auto& ops = m.layers[0].ops;
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_TRUE(ops[1].exact);  // Div by 2 after the pool: still a sum pool
  EXPECT_EQ(ops[1].factor, 1.0 / 8);
  EXPECT_FALSE(m.layers[1].ops.front().exact);  // different factors per channel: weighted
}

// ---- the flatten idiom -----------------------------------------------------------------------

// conv -> x^2 -> <flatten> -> Linear, for each way an exporter writes the flatten.
TEST_F(OnnxPytorch, TheViewFlattenIdiomIsAFlatten) {
  using Write = std::function<void(OnnxGraph&)>;  // from "sq" to "flat"
  auto view = [](bool unsqueeze_attr, bool cast, bool scalar_minus_one) -> Write {
    return [=](OnnxGraph& g) {
      g.node("Shape", "shape", {"sq"}, "shape");
      g.constant("zero", {}, {0});
      g.node("Gather", "gather", {"shape", "zero"}, "n");
      std::string n = "n";
      if (cast) {
        testing::set_int(g.node("Cast", "cast", {"n"}, "n64"), "to", onnx::TensorProto::INT64);
        n = "n64";
      }
      auto unsqueeze = [&](const std::string& in, const std::string& out) {  // axes: attribute to opset 12
        if (unsqueeze_attr) {
          testing::set_ints(g.node("Unsqueeze", out, {in}, out), "axes", {0});
        } else {
          g.constant(out + ".axes", {1}, {0});
          g.node("Unsqueeze", out, {in, out + ".axes"}, out);
        }
      };
      unsqueeze(n, "batch");
      if (scalar_minus_one) {  // not constant-folded
        g.constant("minus_one", {}, {-1});
        unsqueeze("minus_one", "rest");
      } else {
        g.constant("rest", {1}, {-1});
      }
      testing::set_int(g.node("Concat", "concat", {"batch", "rest"}, "target"), "axis", 0);
      g.node("Reshape", "reshape", {"sq", "target"}, "flat");
    };
  };
  auto folded = [](std::vector<double> target) -> Write {
    return [=](OnnxGraph& g) {
      g.initializer("target", {2}, target, onnx::TensorProto::INT64);
      g.node("Reshape", "reshape", {"sq", "target"}, "flat");
    };
  };
  const Write sliced = [](OnnxGraph& g) {  // x.reshape(x.shape[:1] + (-1,)) in opset 13
    g.node("Shape", "shape", {"sq"}, "shape");
    g.constant("starts", {1}, {0});
    g.constant("ends", {1}, {1});
    g.node("Slice", "slice", {"shape", "starts", "ends"}, "batch");
    g.constant("rest", {1}, {-1});
    testing::set_int(g.node("Concat", "concat", {"batch", "rest"}, "target"), "axis", 0);
    g.node("Reshape", "reshape", {"sq", "target"}, "flat");
  };
  const std::vector<std::pair<int, Write>> ways = {{11, view(true, false, false)},
                                                   {9, view(true, false, true)},
                                                   {13, view(false, false, false)},
                                                   {17, view(false, true, false)},
                                                   {13, sliced},
                                                   {11, folded({1, -1})},
                                                   {13, folded({64, -1})},
                                                   {13, folded({-1, 8})},
                                                   {13, folded({0, 8})}};
  for (std::size_t way = 0; way < ways.size(); ++way) {
    const auto& [opset, write] = ways[way];
    SCOPED_TRACE("opset " + std::to_string(opset) + ", way " + std::to_string(way));
    std::mt19937_64 rng(8);
    OnnxGraph g(opset);
    g.input("input", {1, 3, 3});
    Params c, fc;
    const std::string y = add_conv(g, "conv", "input", 1, 2, 2, {0, 0, 0, 0}, rng, c);
    g.node("Mul", "sq", {y, y}, "sq");
    write(g);
    g.output(add_gemm(g, "fc", "flat", 2, 8, rng, fc));
    const FloatModel m = expect_matches(g, {1, 3, 3}, [&](const Image& x) {
      return testing::gemm(testing::square(testing::conv(x, c.w, c.b, 2, 2)), fc.w, fc.b, 2);
    });
    EXPECT_EQ(m.layers.size(), 2u);
  }
}

TEST_F(OnnxPytorch, ShapeValuesOnlyFeedAReshapeTarget) {
  OnnxGraph g(13);
  g.input("input", {2, 2, 2});
  g.node("Shape", "shape", {"input"}, "shape");
  g.constant("rest", {1}, {-1});
  g.node("Concat", "concat", {"shape", "rest"}, "target");  // (batch, 2, 2, 2, -1)
  g.node("Reshape", "reshape", {"input", "target"}, "y");
  g.output("y");
  expect_refused(g, {"node 'reshape' (Reshape)", "(batch, 2, 2, 2, -1)", "does not keep (batch, features)"});

  OnnxGraph h(13);
  h.input("input", {4});
  h.node("Shape", "shape", {"input"}, "shape");
  h.node("Mul", "mul", {"input", "shape"}, "y");
  h.output("y");
  expect_refused(h, {"node 'mul' (Mul)", "computed from a tensor's shape"});

  OnnxGraph k(13);
  k.input("input", {4});
  k.constant("zero", {}, {0});
  k.node("Gather", "gather", {"input", "zero"}, "y");
  k.output("y");
  expect_refused(k, {"node 'gather' (Gather)", "applies Gather to the activation"});
}

// The user's path: normalize, Conv, BatchNorm2d, x^2, nn.AvgPool2d(2, padding=1) (Pad, then
// AveragePool), x.view(x.size(0), -1), Linear; quantized, proved and verified, the dequantized
// outputs close to the float network's.
TEST_F(OnnxPytorch, APytorchStyleCnnProvesToTheFloatNetwork) {
  std::mt19937_64 rng(9);
  OnnxGraph g(13);
  g.input("input", {1, 6, 6});
  g.initializer("mean", {1, 1, 1, 1}, {0.25});
  g.initializer("std", {1, 1, 1, 1}, {0.5});
  g.node("Sub", "sub", {"input", "mean"}, "centred");
  g.node("Div", "div", {"centred", "std"}, "normalized");
  Params c, fc;
  Norm bn;
  std::string y =
      add_batch_norm(g, "bn", add_conv(g, "conv", "normalized", 1, 2, 3, {0, 0, 0, 0}, rng, c, false), 2, rng, bn);
  g.node("Mul", "sq", {y, y}, "sq");
  g.constant("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  g.node("Pad", "pad", {"sq", "pads"}, "padded");
  testing::set_ints(g.node("AveragePool", "pool", {"padded"}, "pooled"), "kernel_shape", {2, 2});
  testing::set_ints(g.find("pool"), "strides", {2, 2});
  g.node("Shape", "shape", {"pooled"}, "shape");
  g.constant("zero", {}, {0});
  g.node("Gather", "gather", {"shape", "zero"}, "n");
  g.constant("axes", {1}, {0});
  g.node("Unsqueeze", "unsqueeze", {"n", "axes"}, "batch");
  g.constant("rest", {1}, {-1});
  testing::set_int(g.node("Concat", "concat", {"batch", "rest"}, "target"), "axis", 0);
  g.node("Reshape", "reshape", {"pooled", "target"}, "flat");
  g.output(add_gemm(g, "fc", "flat", 3, 2 * 3 * 3, rng, fc));
  const Ref ref = [&](const Image& x) {
    Image z = x;
    for (double& v : z.v) v = (v - 0.25) / 0.5;
    z = testing::square(bn.apply(testing::conv(z, c.w, {}, 2, 3)));
    return testing::gemm(testing::average_pool(testing::pad(z, 1, 1, 1, 1), 2, 2), fc.w, fc.b, 3);
  };
  const FloatModel fm = expect_matches(g, {1, 6, 6}, ref);
  const QuantizedModel q = quantize_model(fm, {256.0, 4096.0});
  NpyArray x;
  x.shape = {4, 1, 6, 6};
  x.reals = sixteenths(rng, 4 * 36);
  const std::vector<std::int64_t> input = quantize_input(x, "x.npy", q);
  check_magnitudes(q, input, FieldId::m127);
  std::vector<M127::F> in;
  for (std::int64_t v : input) in.push_back(M127::F::from_int(v));
  auto st = testing::make_statement<M127>(q, 4, std::move(in));
  const auto bundle = prove_bundle(*make_cpu_engine<M127>(), st);
  const Verdict verdict = verify_bundle(st, bundle);
  EXPECT_TRUE(verdict.accepted) << verdict.failed_check;
  ASSERT_EQ(st.outputs.size(), 4u * 3u);
  for (std::size_t k = 0; k < 4; ++k) {
    const Image sample{1, 6, 6,
                       std::vector<double>(x.reals.begin() + static_cast<std::ptrdiff_t>(36 * k),
                                           x.reals.begin() + static_cast<std::ptrdiff_t>(36 * (k + 1)))};
    const std::vector<double> want = ref(sample).v;
    for (std::size_t o = 0; o < 3; ++o)
      EXPECT_NEAR(static_cast<double>(st.outputs[3 * k + o].centered()) / q.output_scale(), want[o],
                  0.01 * (1 + std::fabs(want[o])))
          << "sample " << k << " output " << o;
  }
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

// SPDX-License-Identifier: Apache-2.0
// The flatten x.view(x.size(0), -1) as torch.onnx.export writes it in opsets 9-17 (Shape / Gather /
// [Cast] / Unsqueeze / Concat / Reshape, a Slice of the shape, or a constant-folded target), the
// limits on what a shape value may feed, and a PyTorch-style CNN (normalize, BatchNorm2d, padded
// AvgPool2d, view) imported, quantized, proved and verified against the float network, and through
// the CLI on uint8 images.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "host/npy.hpp"
#include "host/prover.hpp"
#include "host/quantize.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "tests/host/onnx_pytorch.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/models.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

using namespace nnproof::testing;  // NOLINT: the shared writers and the reference ops
using OnnxFlatten = OnnxModelTest;

TEST_F(OnnxFlatten, TheViewFlattenIdiomIsAFlatten) {
  using Write = std::function<void(OnnxGraph&)>;  // from "sq" to "flat"
  auto view = [](bool unsqueeze_attr, bool cast, bool scalar_minus_one) -> Write {
    return [=](OnnxGraph& g) {
      g.node("Shape", "shape", {"sq"}, "shape");
      g.constant("zero", {}, {0});
      g.node("Gather", "gather", {"shape", "zero"}, "n");
      std::string n = "n";
      if (cast) {
        set_int(g.node("Cast", "cast", {"n"}, "n64"), "to", onnx::TensorProto::INT64);
        n = "n64";
      }
      auto unsqueeze = [&](const std::string& in, const std::string& out) {  // axes: attribute to opset 12
        if (unsqueeze_attr) {
          set_ints(g.node("Unsqueeze", out, {in}, out), "axes", {0});
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
      set_int(g.node("Concat", "concat", {"batch", "rest"}, "target"), "axis", 0);
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
    set_int(g.node("Concat", "concat", {"batch", "rest"}, "target"), "axis", 0);
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
    const FloatModel m = expect_matches(
        g, {1, 3, 3}, [&](const Image& x) { return gemm(square(conv(x, c.w, c.b, 2, 2)), fc.w, fc.b, 2); });
    EXPECT_EQ(m.layers.size(), 2u);
  }
}

TEST_F(OnnxFlatten, ShapeValuesOnlyFeedAReshapeTarget) {
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
// The user's CNN on (1, 6, 6) images; `ref` becomes the network as ONNX defines it.
struct PytorchCnn {
  OnnxGraph g{13};
  Params c, fc;
  Norm bn;
  Ref ref;
};

PytorchCnn pytorch_cnn(std::mt19937_64& rng) {
  PytorchCnn m;
  OnnxGraph& g = m.g;
  g.input("input", {1, 6, 6});
  g.initializer("mean", {1, 1, 1, 1}, {0.25});
  g.initializer("std", {1, 1, 1, 1}, {0.5});
  g.node("Sub", "sub", {"input", "mean"}, "centred");
  g.node("Div", "div", {"centred", "std"}, "normalized");
  std::string y =
      add_batch_norm(g, "bn", add_conv(g, "conv", "normalized", 1, 2, 3, {0, 0, 0, 0}, rng, m.c, false), 2, rng, m.bn);
  g.node("Mul", "sq", {y, y}, "sq");
  g.constant("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  g.node("Pad", "pad", {"sq", "pads"}, "padded");
  set_ints(g.node("AveragePool", "pool", {"padded"}, "pooled"), "kernel_shape", {2, 2});
  set_ints(g.find("pool"), "strides", {2, 2});
  g.node("Shape", "shape", {"pooled"}, "shape");
  g.constant("zero", {}, {0});
  g.node("Gather", "gather", {"shape", "zero"}, "n");
  g.constant("axes", {1}, {0});
  g.node("Unsqueeze", "unsqueeze", {"n", "axes"}, "batch");
  g.constant("rest", {1}, {-1});
  set_int(g.node("Concat", "concat", {"batch", "rest"}, "target"), "axis", 0);
  g.node("Reshape", "reshape", {"pooled", "target"}, "flat");
  g.output(add_gemm(g, "fc", "flat", 3, 2 * 3 * 3, rng, m.fc));
  m.ref = [c = m.c, fc = m.fc, bn = m.bn](const Image& x) {
    Image z = x;
    for (double& v : z.v) v = (v - 0.25) / 0.5;
    z = square(bn.apply(conv(z, c.w, {}, 2, 3)));
    return gemm(average_pool(pad(z, 1, 1, 1, 1), 2, 2), fc.w, fc.b, 3);
  };
  return m;
}

TEST_F(OnnxFlatten, APytorchStyleCnnProvesToTheFloatNetwork) {
  std::mt19937_64 rng(9);
  const PytorchCnn cnn = pytorch_cnn(rng);
  const OnnxGraph& g = cnn.g;
  const Ref& ref = cnn.ref;
  const FloatModel fm = expect_matches(g, {1, 6, 6}, ref);
  const QuantizedModel q = quantize_model(fm, {256.0, 4096.0});
  NpyArray x;
  x.shape = {4, 1, 6, 6};
  x.reals = sixteenths(rng, 4 * 36);
  const std::vector<std::int64_t> input = quantize_input(x, "x.npy", q);
  check_magnitudes(q, input, FieldId::m127);
  std::vector<M127::F> in;
  for (std::int64_t v : input) in.push_back(M127::F::from_int(v));
  auto st = make_statement<M127>(q, 4, std::move(in));
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

// Through the CLI, as a user runs it: uint8 images straight from a dataset, the scales in the
// model's metadata, prove then verify.
TEST_F(OnnxFlatten, TheCliProvesAndVerifiesItOnUint8Images) {
  if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
  std::mt19937_64 rng(10);
  PytorchCnn cnn = pytorch_cnn(rng);
  for (auto [key, value] : {std::pair{"nnproof.alpha", "1"}, std::pair{"nnproof.beta", "4096"}}) {
    auto* p = cnn.g.model.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }
  const std::string model = dir.file("cnn.onnx"), images = dir.file("images.npy"), proof = dir.file("p.nnp");
  cnn.g.save(model);
  std::string npy = "\x93NUMPY\x01";
  npy += '\0';
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 1, 6, 6), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  npy += static_cast<char>(header.size());
  npy += '\0';
  npy += header;
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 3 * 36; ++i) npy += static_cast<char>(byte(rng));
  std::ofstream(images, std::ios::binary) << npy;
  CliRun r = run_cli("prove --model " + model + " --input " + images + " --proof " + proof + " --field m127");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_cli("verify --model " + model + " --input " + images + " --proof " + proof);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("VERIFIED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace nnproof

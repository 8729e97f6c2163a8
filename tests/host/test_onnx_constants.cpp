// SPDX-License-Identifier: Apache-2.0
// What torch.onnx.export leaves in a graph when it does not fold constants (do_constant_folding=
// False, or ops its folding does not reach), and pooling as opset 9 writes ceil_mode: found by
// exporting the examples/pytorch CNN and its variants with torch 1.13 (Debian's python3-torch).
//   x ** 2                  Constant(2, int64) -> Cast(to=FLOAT) -> Pow(x, .)      (opsets 9-12)
//   nn.Linear(bias=False)   Transpose(weight) -> MatMul(x, .)
//   nn.AvgPool2d(2, ceil_mode=True) at opset 9: AveragePool(pads=[0,0,1,1], count_include_pad=0)
// Each imported model is run in float against the network as ONNX defines it (onnx_reference.hpp).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_pytorch.hpp"

namespace nnproof {
namespace {

using namespace nnproof::testing;  // NOLINT: the shared writers and the reference ops
using OnnxConstants = OnnxModelTest;

// Conv -> x ** 2 (its exponent cast from an int64 Constant, as opsets 9-12 write it without
// folding) -> AveragePool -> Flatten -> Gemm.
TEST_F(OnnxConstants, PowExponentCastFromAnIntegerConstantIsTwo) {
  for (int opset : {9, 11, 12}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    std::mt19937_64 rng(11);
    OnnxGraph g(opset);
    g.input("input", {1, 5, 5});
    Params c, fc;
    const std::string y = add_conv(g, "conv", "input", 1, 2, 2, {0, 0, 0, 0}, rng, c);
    g.constant("two", {}, {2});  // int64, as torch writes the Python int
    set_int(g.node("Cast", "cast", {"two"}, "two_f"), "to", onnx::TensorProto::FLOAT);
    g.node("Pow", "pow", {y, "two_f"}, "sq");
    auto& pool = g.node("AveragePool", "pool", {"sq"}, "pooled");
    set_ints(pool, "kernel_shape", {2, 2});
    set_ints(pool, "strides", {2, 2});
    set_int(g.node("Flatten", "flatten", {"pooled"}, "flat"), "axis", 1);
    g.output(add_gemm(g, "fc", "flat", 3, 2 * 2 * 2, rng, fc));
    const FloatModel m = expect_matches(g, {1, 5, 5}, [&](const Image& x) {
      return gemm(average_pool(square(conv(x, c.w, c.b, 2, 2)), 2, 2), fc.w, fc.b, 3);
    });
    EXPECT_EQ(m.layers.size(), 2u);
  }
}

// A Cast to float32 rounds: a double constant 1/3 cast to FLOAT scales by float(1/3), not 1/3
// (relative difference 3e-8, far above expect_matches' 1e-9). A Cast to DOUBLE keeps the value.
TEST_F(OnnxConstants, CastToFloatRoundsTheConstantAsFloat32Does) {
  for (int to : {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE}) {
    SCOPED_TRACE("to " + std::to_string(to));
    std::mt19937_64 rng(12);
    OnnxGraph g(13);
    g.input("input", {4});
    g.constant("third", {}, {1.0 / 3}, onnx::TensorProto::DOUBLE);
    set_int(g.node("Cast", "cast", {"third"}, "third_f"), "to", to);
    Params f1, f2;
    const std::string y = add_gemm(g, "fc1", "input", 3, 4, rng, f1);
    g.node("Mul", "scale", {y, "third_f"}, "scaled");
    g.node("Mul", "sq", {"scaled", "scaled"}, "sq");
    g.output(add_gemm(g, "fc2", "sq", 2, 3, rng, f2));
    const double k = to == onnx::TensorProto::FLOAT ? static_cast<double>(static_cast<float>(1.0 / 3)) : 1.0 / 3;
    expect_matches(g, {4, 1, 1}, [&](Image x) {
      x = gemm(x, f1.w, f1.b, 3);
      for (double& v : x.v) v *= k;
      return gemm(square(x), f2.w, f2.b, 2);
    });
  }
}

// nn.Linear(bias=False) without constant folding: MatMul(x, Transpose(weight)), weight (out, in).
TEST_F(OnnxConstants, TransposedWeightOfABiasFreeLinearIsFolded) {
  std::mt19937_64 rng(13);
  OnnxGraph g(13);
  g.input("input", {5});
  const std::vector<double> w1 = sixteenths(rng, 3 * 5), w2 = sixteenths(rng, 2 * 3);
  g.initializer("fc1.weight", {3, 5}, w1);
  g.initializer("fc2.weight", {2, 3}, w2);
  g.node("Transpose", "t1", {"fc1.weight"}, "w1t");  // no perm: reversed axes
  g.node("MatMul", "fc1", {"input", "w1t"}, "h");
  g.node("Mul", "sq", {"h", "h"}, "sq");
  set_ints(g.node("Transpose", "t2", {"fc2.weight"}, "w2t"), "perm", {1, 0});
  g.node("MatMul", "fc2", {"sq", "w2t"}, "out");
  g.output("out");
  expect_matches(g, {5, 1, 1}, [&](const Image& x) { return gemm(square(gemm(x, w1, {}, 3)), w2, {}, 2); });
}

// A rank-3 Transpose: a per-pixel mean stored as (H, W, C), moved to (C, H, W) by perm (2, 0, 1)
// and subtracted from the input image.
TEST_F(OnnxConstants, TransposeOfARank3ConstantPermutesItsEntries) {
  std::mt19937_64 rng(14);
  OnnxGraph g(13);
  const std::size_t c = 2, h = 3, w = 4;
  g.input("input", {2, 3, 4});
  const std::vector<double> hwc = sixteenths(rng, h * w * c);
  g.initializer("mean_hwc", {3, 4, 2}, hwc);
  set_ints(g.node("Transpose", "t", {"mean_hwc"}, "mean_chw"), "perm", {2, 0, 1});
  g.node("Sub", "sub", {"input", "mean_chw"}, "centred");
  set_int(g.node("Flatten", "flatten", {"centred"}, "flat"), "axis", 1);
  Params fc;
  g.output(add_gemm(g, "fc", "flat", 3, c * h * w, rng, fc));
  expect_matches(g, {c, h, w}, [&](Image x) {
    for (std::size_t ci = 0; ci < c; ++ci)
      for (std::size_t i = 0; i < h; ++i)
        for (std::size_t j = 0; j < w; ++j) x.v[(ci * h + i) * w + j] -= hwc[(i * w + j) * c + ci];
    return gemm(x, fc.w, fc.b, 3);
  });
}

TEST_F(OnnxConstants, WhatIsNotAConstantFoldIsRefused) {
  std::mt19937_64 rng(15);
  Params fc;
  {  // Transpose of the activation is not a constant op
    OnnxGraph g(13);
    g.input("input", {3});
    g.node("Transpose", "t", {"input"}, "tx");
    g.output(add_gemm(g, "fc", "tx", 2, 3, rng, fc));
    expect_refused(g, {"node 't' (Transpose)", "not supported"});
  }
  {  // a perm that is not a permutation
    OnnxGraph g(13);
    g.input("input", {3});
    g.initializer("w", {3, 2}, sixteenths(rng, 6));
    set_ints(g.node("Transpose", "t", {"w"}, "wt"), "perm", {0, 0});
    g.node("MatMul", "mm", {"input", "wt"}, "out");
    g.output("out");
    expect_refused(g, {"node 't' (Transpose)", "perm is not a permutation of the 2 axes"});
  }
  {  // a double past float32's range cast to FLOAT
    OnnxGraph g(13);
    g.input("input", {3});
    g.constant("huge", {}, {1e300}, onnx::TensorProto::DOUBLE);
    set_int(g.node("Cast", "cast", {"huge"}, "huge_f"), "to", onnx::TensorProto::FLOAT);
    g.node("Mul", "scale", {"input", "huge_f"}, "scaled");
    g.output(add_gemm(g, "fc", "scaled", 2, 3, rng, fc));
    expect_refused(g, {"node 'cast' (Cast)", "overflows"});
  }
  {  // a Cast of a float constant to an integer type stays in the shape computation, which refuses it
    OnnxGraph g(13);
    g.input("input", {3});
    g.constant("half", {}, {0.5}, onnx::TensorProto::FLOAT);
    set_int(g.node("Cast", "cast", {"half"}, "half_i"), "to", onnx::TensorProto::INT64);
    g.node("Mul", "scale", {"input", "half_i"}, "scaled");
    g.output(add_gemm(g, "fc", "scaled", 2, 3, rng, fc));
    expect_refused(g, {"tensor 'half' has element type FLOAT where ONNX asks for int64"});
  }
}

// Folds keep copies: many Transposes of one weight (a small file asking for many copies of it)
// are refused once they hold more elements than the file has bytes. 300 copies of a 2,048-entry
// weight (about 8 KB of raw float32) pass that limit; two folds of it do not.
TEST_F(OnnxConstants, FoldsOfOneWeightAreCappedByTheFileSize) {
  std::mt19937_64 rng(17);
  for (int copies : {2, 300}) {
    SCOPED_TRACE(std::to_string(copies) + " copies");
    OnnxGraph g(13);
    g.input("input", {64});
    g.initializer("w", {32, 64}, sixteenths(rng, 32 * 64));
    for (int k = 0; k < copies; ++k) g.node("Transpose", "t" + std::to_string(k), {"w"}, "wt" + std::to_string(k));
    g.node("MatMul", "mm", {"input", "wt0"}, "h");
    g.node("Mul", "sq", {"h", "h"}, "sq");
    Params fc;
    g.output(add_gemm(g, "fc", "sq", 2, 32, rng, fc));
    const std::string path = dir.file("copies.onnx");
    g.save(path);
    if (copies == 2) {
      EXPECT_NO_THROW(import_onnx(path));
    } else {
      expect_refused(g, {"folds more constant data than the file holds", "do_constant_folding=True"});
    }
  }
}

// nn.AvgPool2d(2, ceil_mode=True) at opset 9 pads the end by one with count_include_pad=0. On a
// 6x6 map no window reaches that padding: the same pool as without it. On 5x5 the last window
// would average one row or column of the image (a partial window): refused.
TEST_F(OnnxConstants, Opset9CeilModePaddingNoWindowReadsIsDropped) {
  for (std::size_t side : {6u, 5u}) {
    SCOPED_TRACE("side " + std::to_string(side));
    std::mt19937_64 rng(16);
    OnnxGraph g(9);
    const auto s = static_cast<std::int64_t>(side);
    g.input("input", {1, s, s});
    auto& pool = g.node("AveragePool", "pool", {"input"}, "pooled");
    set_ints(pool, "kernel_shape", {2, 2});
    set_ints(pool, "strides", {2, 2});
    set_ints(pool, "pads", {0, 0, 1, 1});
    set_int(g.node("Flatten", "flatten", {"pooled"}, "flat"), "axis", 1);
    Params fc;
    const std::size_t out = (side + 1 - 2) / 2 + 1;
    g.output(add_gemm(g, "fc", "flat", 2, out * out, rng, fc));
    if (side == 6) {
      const FloatModel m =
          expect_matches(g, {1, 6, 6}, [&](const Image& x) { return gemm(average_pool(x, 2, 2), fc.w, fc.b, 2); });
      const ConvShape& p = m.layers[0].ops.front().conv;
      EXPECT_EQ(p.pad_bottom + p.pad_right, 0u);
    } else {
      expect_refused(g, {"node 'pool' (AveragePool)", "count_include_pad=0"});
    }
  }
}

}  // namespace
}  // namespace nnproof

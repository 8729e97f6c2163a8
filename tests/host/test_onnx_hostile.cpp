// SPDX-License-Identifier: Apache-2.0
// Model files written to hurt (each found with a proof-of-concept model): a Gemm chain whose
// product is small but whose first partial product is huge, a tiny file chaining large pooling
// windows, a trailing Softmax whose ONNX axis is not "all features", Reshape targets no exporter
// writes. Import must stay small and fast and refuse with one line naming the node.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "host/prover.hpp"
#include "host/quantize.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "tests/host/onnx_pytorch.hpp"
#include "tests/support/models.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

using namespace nnproof::testing;  // NOLINT: the shared writers and the reference ops
using OnnxHostile = OnnxModelTest;

// Gemm n0 -> 1 -> M -> 1: the product is 1 x n0, but multiplied out first op first its partial
// product W2 W1 is M x n0 (a 393 KB model asked for 8 GiB this way). It stays a structured chain
// of three ops, and proves.
TEST_F(OnnxHostile, AGemmChainWithAHugePartialProductStaysStructured) {
  constexpr std::size_t n0 = 4096, m = 4096;  // W2 W1 would be 2^24 doubles
  std::mt19937_64 rng(11);
  OnnxGraph g(13);
  g.input("input", {static_cast<std::int64_t>(n0)});
  Params p1, p2, p3;
  std::string y = add_gemm(g, "fc1", "input", 1, n0, rng, p1);
  y = add_gemm(g, "fc2", y, m, 1, rng, p2);
  g.output(add_gemm(g, "fc3", y, 1, m, rng, p3));
  const FloatModel fm = expect_matches(
      g, {n0, 1, 1}, [&](const Image& x) { return gemm(gemm(gemm(x, p1.w, p1.b, 1), p2.w, p2.b, m), p3.w, p3.b, 1); });
  ASSERT_EQ(fm.layers.size(), 1u);
  EXPECT_EQ(fm.layers[0].ops.size(), 3u);
  EXPECT_TRUE(fm.layers[0].weights.empty());

  const QuantizedModel q = quantize_model(fm, {16.0, 16.0});
  std::vector<M127::F> in;
  for (std::size_t i = 0; i < 2 * n0; ++i) in.push_back(M127::F::from_int(static_cast<std::int64_t>(i % 7) - 3));
  auto st = make_statement<M127>(q, 2, std::move(in));
  const Verdict v = verify_bundle(st, prove_bundle(*make_cpu_engine<M127>(), st));
  EXPECT_TRUE(v.accepted) << v.failed_check;
}

// An n0 -> 8 -> 4 chain, whose partial products are small, is still multiplied out.
TEST_F(OnnxHostile, ASmallGemmChainIsStillMultipliedOut) {
  std::mt19937_64 rng(12);
  OnnxGraph g(13);
  g.input("input", {16});
  Params p1, p2;
  g.output(add_gemm(g, "fc2", add_gemm(g, "fc1", "input", 8, 16, rng, p1), 4, 8, rng, p2));
  const FloatModel fm =
      expect_matches(g, {16, 1, 1}, [&](const Image& x) { return gemm(gemm(x, p1.w, p1.b, 8), p2.w, p2.b, 4); });
  ASSERT_EQ(fm.layers.size(), 1u);
  EXPECT_FALSE(fm.layers[0].structured());
}

// `count` AveragePools of a k x k window at stride 1, padded by `pad` on every side, on 1 x 64 x 64.
OnnxGraph pool_chain(int count, std::int64_t k, std::int64_t pad) {
  OnnxGraph g(13);
  g.input("input", {1, 64, 64});
  std::string x = "input";
  for (int i = 1; i <= count; ++i) {
    const std::string name = "pool" + std::to_string(i);
    auto& n = g.node("AveragePool", name, {x}, name);
    set_ints(n, "kernel_shape", {k, k});
    set_ints(n, "pads", {pad, pad, pad, pad});
    set_int(n, "count_include_pad", 1);
    x = name;
  }
  g.output(x);
  return g;
}

// Twenty 32 x 32 pools padded by 31 (a 1 KB file; ~1 s of verifying per node before the cap) are
// refused at import, quickly; twenty 2 x 2 pools at stride 1 are what real networks do, and pass.
TEST_F(OnnxHostile, PoolingWorkIsCappedByTheModelsFeatures) {
  const auto start = std::chrono::steady_clock::now();
  expect_refused(pool_chain(20, 32, 31), {"node 'pool2' (AveragePool): pooling windows would sum 25498624 inputs",
                                          "2^24 + 32 per feature", "use smaller pooling windows"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  const std::string path = dir.file("fine.onnx");
  pool_chain(20, 2, 0).save(path);
  const FloatModel m = import_onnx(path);
  EXPECT_EQ(m.layers.front().ops.size(), 20u);
}

// ONNX's Softmax on a (batch, C, H, W) tensor, one sample: over `axis` alone from opset 13 on,
// before it over the axes from `axis` on.
std::vector<double> onnx_softmax(const std::vector<double>& x, const std::vector<std::size_t>& dims, std::size_t axis,
                                 int opset) {
  std::vector<double> y(x.size());
  const std::size_t n = x.size();
  std::size_t inner = 1;  // entries per step of the normalized axes' last index
  for (std::size_t d = axis; d < 3; ++d) inner *= dims[d];
  const std::size_t span = opset >= 13 ? dims[axis - 1] : dims[axis - 1] * inner;  // entries normalized together
  const std::size_t stride = opset >= 13 ? inner : 1;
  std::vector<bool> done(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    if (done[i]) continue;
    std::vector<std::size_t> group;  // i and the entries normalized with it
    for (std::size_t t = 0; t < span; ++t) group.push_back(i + t * stride);
    double sum = 0;
    for (std::size_t j : group) sum += std::exp(x[j]);
    for (std::size_t j : group) y[j] = std::exp(x[j]) / sum, done[j] = true;
  }
  return y;
}

// A trailing Softmax is accepted exactly when ONNX's definition on its axis is the verifier's
// (all of a sample's features), for every axis, opset and image shape tried, and refused otherwise.
TEST_F(OnnxHostile, SoftmaxIsAcceptedOnlyWhereItsOnnxAxisMeansAllFeatures) {
  std::mt19937_64 rng(13);
  for (const std::vector<std::size_t>& dims :
       std::vector<std::vector<std::size_t>>{{2, 2, 2}, {4, 1, 1}, {1, 1, 4}, {1, 3, 1}}) {
    for (int opset : {11, 13}) {
      for (std::int64_t axis = -4; axis <= 4; ++axis) {
        SCOPED_TRACE("dims (" + std::to_string(dims[0]) + ", " + std::to_string(dims[1]) + ", " +
                     std::to_string(dims[2]) + "), opset " + std::to_string(opset) + ", axis " + std::to_string(axis));
        OnnxGraph g(opset);
        g.input("input", {static_cast<std::int64_t>(dims[0]), static_cast<std::int64_t>(dims[1]),
                          static_cast<std::int64_t>(dims[2])});
        Params c;
        set_int(g.node("Softmax", "softmax", {add_conv(g, "conv", "input", dims[0], dims[0], 1, {0, 0, 0, 0}, rng, c)},
                       "y"),
                "axis", axis);
        g.output("y");
        const std::int64_t a = axis < 0 ? axis + 4 : axis;
        bool same = a >= 1 && a <= 3;  // ONNX's softmax is the verifier's on random data
        if (same) {
          const std::vector<double> x = sixteenths(rng, dims[0] * dims[1] * dims[2]);
          const std::vector<double> y = onnx_softmax(x, dims, static_cast<std::size_t>(a), opset);
          double sum = 0;
          for (double v : x) sum += std::exp(v);
          for (std::size_t i = 0; i < x.size(); ++i) same = same && std::fabs(y[i] - std::exp(x[i]) / sum) < 1e-12;
        }
        const std::string path = dir.file("softmax.onnx");
        g.save(path);
        if (same) {
          EXPECT_EQ(import_onnx(path).final_op, FinalOp::softmax);
        } else {
          expect_refused(g, {"node 'softmax' (Softmax)", "axis=" + std::to_string(axis)});
        }
      }
    }
  }
}

// Reshape targets are validated before any entry is converted to a size: a float 1e30 (ONNX asks
// for int64), sizes beyond 2^26 or below -1, also when a Concat builds the target.
TEST_F(OnnxHostile, ReshapeTargetsAreCheckedBeforeConversion) {
  auto model = [](std::vector<double> target, int type, bool concat) {
    OnnxGraph g(13);
    g.input("input", {4});
    if (concat) {
      g.constant("head", {1}, {target[0]}, type);
      g.constant("tail", {1}, {target[1]}, type);
      set_int(g.node("Concat", "concat", {"head", "tail"}, "target"), "axis", 0);
    } else {
      g.initializer("target", {2}, target, type);
    }
    g.node("Reshape", "reshape", {"input", "target"}, "flat");
    Params p;
    std::mt19937_64 rng(14);
    g.output(add_gemm(g, "fc", "flat", 2, 4, rng, p));
    return g;
  };
  for (bool concat : {false, true}) {
    expect_refused(model({-1, 1e30}, onnx::TensorProto::FLOAT, concat), {"element type FLOAT", "int64"});
    expect_refused(model({-1, std::ldexp(1.0, 40)}, onnx::TensorProto::INT64, concat),
                   {"node 'reshape' (Reshape)", "holds 1099511627776, not a size"});
    expect_refused(model({-1, -5}, onnx::TensorProto::INT64, concat), {"holds -5, not a size"});
    expect_refused(model({-9e18, -1}, onnx::TensorProto::INT64, concat), {"not a size"});
  }
}

}  // namespace
}  // namespace nnproof

// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the ONNX import tests of PyTorch-style and hostile models share: writers for a Conv, a
// Linear and a BatchNormalization with random parameters (kept for the reference evaluation), and
// a fixture that imports a graph and compares it with that reference or expects a refusal.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_graph.hpp"
#include "tests/host/onnx_reference.hpp"
#include "tests/support/temp_dir.hpp"

namespace nnproof::testing {

using Ref = std::function<Image(const Image&)>;

struct Params {
  std::vector<double> w, b;
};

inline std::string add_conv(OnnxGraph& g, const std::string& name, const std::string& x, std::size_t in_c,
                            std::size_t m, std::size_t k, const std::vector<std::int64_t>& pads, std::mt19937_64& rng,
                            Params& p, bool bias = true) {
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
  set_ints(n, "kernel_shape", {ki, ki});
  set_ints(n, "pads", pads);
  return name + ".out";
}

inline std::string add_gemm(OnnxGraph& g, const std::string& name, const std::string& x, std::size_t rows,
                            std::size_t cols, std::mt19937_64& rng, Params& p) {
  p.w = sixteenths(rng, rows * cols);
  p.b = sixteenths(rng, rows);
  g.initializer(name + ".weight", {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}, p.w);
  g.initializer(name + ".bias", {static_cast<std::int64_t>(rows)}, p.b);
  set_int(g.node("Gemm", name, {x, name + ".weight", name + ".bias"}, name + ".out"), "transB", 1);
  return name + ".out";
}

struct Norm {
  std::vector<double> scale, b, mean, var;
  static constexpr double kEps = 1.0 / 1024;  // exact in the float attribute
  Image apply(const Image& x) const { return batch_norm(x, scale, b, mean, var, kEps); }
};

inline std::string add_batch_norm(OnnxGraph& g, const std::string& name, const std::string& x, std::size_t c,
                                  std::mt19937_64& rng, Norm& bn) {
  bn = {sixteenths(rng, c), sixteenths(rng, c), sixteenths(rng, c), sixteenths(rng, c, 1, 64)};
  const std::vector<std::int64_t> dims = {static_cast<std::int64_t>(c)};
  g.initializer(name + ".weight", dims, bn.scale);
  g.initializer(name + ".bias", dims, bn.b);
  g.initializer(name + ".running_mean", dims, bn.mean);
  g.initializer(name + ".running_var", dims, bn.var);
  auto& n = g.node("BatchNormalization", name,
                   {x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"}, name + ".out");
  set_float(n, "epsilon", static_cast<float>(Norm::kEps));
  set_float(n, "momentum", 0.9f);
  return name + ".out";
}

class OnnxModelTest : public ::testing::Test {
 protected:
  // The imported model of `g` against `ref` on random inputs of shape chw.
  FloatModel expect_matches(const OnnxGraph& g, const std::vector<std::size_t>& chw, const Ref& ref) {
    const std::string path = dir.file("m.onnx");
    g.save(path);
    FloatModel m = import_onnx(path);
    std::mt19937_64 rng(7);
    for (int t = 0; t < 3; ++t) {
      const Image x{chw[0], chw[1], chw[2], sixteenths(rng, chw[0] * chw[1] * chw[2])};
      const std::vector<double> want = ref(x).v, got = run_float(m, x.v);
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
  TempDir dir;
};

}  // namespace nnproof::testing
